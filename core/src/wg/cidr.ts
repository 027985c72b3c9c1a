/**
 * IP text forms as WireGuard and iproute2 print them, so that configs compare by value and not by
 * spelling: "FD00:0::1/64" and "fd00::/64" are the same allowed IP, "10.1.2.3/24" routes 10.1.2.0/24.
 * Parsing and printing are net/'s; this file holds WireGuard's spellings and the device's errors.
 */
import { errors } from '../errors';
import { formatIp, formatPrefix, maskPrefix, parseAddressWithLength, parseIp, whyNotPrefix, type IpAddressWithLength } from '../net';

function addressWithLength(cidr: string, where: string): IpAddressWithLength {
  const parsed = parseAddressWithLength(cidr);
  if (!parsed) throw errors.configInvalid(where, `"${cidr}" ${whyNotPrefix(cidr)}`);
  return parsed;
}

/**
 * canonicalCidr is a prefix in the form wireguard-go reports it: host bits cleared, address
 * normalized, length always present. Throws TRELLIS_ERR_CONFIG_INVALID for anything else.
 */
export function canonicalCidr(cidr: string, where = 'allowed IP'): string {
  const { ip, length } = addressWithLength(cidr.trim(), where);
  return formatPrefix(maskPrefix(ip, length));
}

/** canonicalAddress is an interface address (host bits kept) with its prefix length, e.g. 100.100.0.1/32. */
export function canonicalAddress(cidr: string, where = 'interface address'): string {
  const { ip, length } = addressWithLength(cidr.trim(), where);
  return `${formatIp(ip)}/${length}`;
}

/** cidrFamily tells whether a CIDR or address is IPv4 or IPv6 (by its spelling; validate first). */
export function cidrFamily(cidr: string): 4 | 6 {
  return cidr.includes(':') ? 6 : 4;
}

/**
 * canonicalEndpoint is ip:port as wireguard-go prints it ([v6]:port). WireGuard's UAPI takes only
 * literal addresses, so host names are refused here rather than half-applied on the device.
 */
export function canonicalEndpoint(endpoint: string, where = 'peer endpoint'): string {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(endpoint) ?? /^([^:[\]]+):(\d{1,5})$/.exec(endpoint);
  const port = m ? Number(m[2]) : NaN;
  const ip = m ? parseIp(m[1]) : null;
  if (!m || !ip || !(port >= 1 && port <= 65535)) {
    throw errors.configInvalid(
      where,
      `"${endpoint}" is not ip:port or [ipv6]:port with a port in 1..65535 (resolve host names before configuring the device)`,
    );
  }
  const text = formatIp(ip);
  return ip.family === 6 ? `[${text}]:${port}` : `${text}:${port}`;
}
