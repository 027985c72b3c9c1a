/**
 * IP text forms as WireGuard and iproute2 print them, so that configs compare by value and not by
 * spelling: "FD00:0::1/64" and "fd00::/64" are the same allowed IP, "10.1.2.3/24" routes 10.1.2.0/24.
 */
import { errors } from '../errors';

/** ParsedIp is an address as bytes (4 or 16). */
export interface ParsedIp {
  family: 4 | 6;
  bytes: Uint8Array;
}

function parseIpv4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === '0')) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

function parseIpv6(s: string): Uint8Array | null {
  if (s.includes('%')) return null;
  let head = s;
  let v4Tail: Uint8Array | null = null;
  const lastColon = s.lastIndexOf(':');
  if (lastColon >= 0 && s.indexOf('.', lastColon) > lastColon) {
    v4Tail = parseIpv4(s.slice(lastColon + 1));
    if (!v4Tail) return null;
    head = s.slice(0, lastColon + 1) + '0:0';
  }
  const halves = head.split('::');
  if (halves.length > 2) return null;
  const toGroups = (part: string): number[] | null => {
    if (part === '') return [];
    const groups: number[] = [];
    for (const g of part.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      groups.push(parseInt(g, 16));
    }
    return groups;
  };
  const left = toGroups(halves[0]);
  const right = halves.length === 2 ? toGroups(halves[1]) : [];
  if (!left || !right) return null;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - left.length - right.length;
    if (missing < 1) return null;
    groups = [...left, ...new Array<number>(missing).fill(0), ...right];
  } else {
    groups = left;
  }
  if (groups.length !== 8) return null;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  if (v4Tail) out.set(v4Tail, 12);
  return out;
}

/** parseIp reads an IPv4 or IPv6 address, or returns null when s is not one. */
export function parseIp(s: string): ParsedIp | null {
  if (s.includes(':')) {
    const bytes = parseIpv6(s);
    return bytes ? { family: 6, bytes } : null;
  }
  const bytes = parseIpv4(s);
  return bytes ? { family: 4, bytes } : null;
}

/** formatIp prints an address the way Go's netip does (RFC 5952 for IPv6, ::ffff:a.b.c.d for mapped). */
export function formatIp(ip: ParsedIp): string {
  const b = ip.bytes;
  if (ip.family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  const isMapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (isMapped) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function splitCidr(cidr: string, where: string): { ip: ParsedIp; bits: number } {
  const slash = cidr.indexOf('/');
  const ip = parseIp(slash < 0 ? cidr : cidr.slice(0, slash));
  if (!ip) throw errors.configInvalid(where, `"${cidr}" is not an IP address or CIDR`);
  const max = ip.family === 4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const len = cidr.slice(slash + 1);
    if (!/^\d{1,3}$/.test(len) || Number(len) > max) {
      throw errors.configInvalid(where, `"${cidr}" has a prefix length outside 0..${max}`);
    }
    bits = Number(len);
  }
  return { ip, bits };
}

/**
 * canonicalCidr is a prefix in the form wireguard-go reports it: host bits cleared, address
 * normalized, length always present. Throws TRELLIS_ERR_CONFIG_INVALID for anything else.
 */
export function canonicalCidr(cidr: string, where = 'allowed IP'): string {
  const { ip, bits } = splitCidr(cidr.trim(), where);
  const bytes = ip.bytes.slice();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    bytes[i] &= keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
  }
  return `${formatIp({ family: ip.family, bytes })}/${bits}`;
}

/** canonicalAddress is an interface address (host bits kept) with its prefix length, e.g. 100.100.0.1/32. */
export function canonicalAddress(cidr: string, where = 'interface address'): string {
  const { ip, bits } = splitCidr(cidr.trim(), where);
  return `${formatIp(ip)}/${bits}`;
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
