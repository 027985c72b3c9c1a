/**
 * The address attributes of STUN: XOR-MAPPED-ADDRESS (RFC 8489 §14.2), the reflexive transport
 * address XORed with the magic cookie (and, for IPv6, the transaction id) so NATs that rewrite
 * addresses in payloads leave it alone, and MAPPED-ADDRESS (§14.1), the same in the clear, which
 * old (RFC 3489) servers send instead.
 */
import { isIPv6 } from 'node:net';
import { formatIp, parseIp } from '../net';
import { STUN_MAGIC_COOKIE } from './stun-message';

export interface TransportAddress {
  family: 'IPv4' | 'IPv6';
  address: string;
  port: number;
}

const FAMILY_V4 = 0x01;
const FAMILY_V6 = 0x02;

/** transportAddressText is ip:port, or [ipv6]:port. */
export function transportAddressText(a: { address: string; port: number }): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** addressBytes is an address of the family as its 4 or 16 bytes (an IPv6 zone is not part of it); null when it is not one. */
function addressBytes(address: string, family: TransportAddress['family']): Uint8Array | null {
  const ip = parseIp(family === 'IPv6' ? address.split('%')[0]! : address);
  return ip && ip.family === (family === 'IPv6' ? 6 : 4) ? ip.bytes : null;
}

/** xorKey is what the address bytes are XORed with: the cookie, then (IPv6) the transaction id. */
function xorKey(transactionId: Buffer): Buffer {
  const key = Buffer.alloc(16);
  key.writeUInt32BE(STUN_MAGIC_COOKIE, 0);
  transactionId.copy(key, 4);
  return key;
}

function encodeAddress(a: TransportAddress, xor: Buffer | null): Buffer {
  const v6 = a.family === 'IPv6';
  const addr = addressBytes(a.address, a.family);
  if (!addr) throw new RangeError(`"${a.address}" is not an ${a.family} address`);
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new RangeError(`port ${a.port} is outside 0..65535`);
  const out = Buffer.alloc(4 + addr.length);
  out.writeUInt8(v6 ? FAMILY_V6 : FAMILY_V4, 1);
  out.writeUInt16BE(xor ? a.port ^ (STUN_MAGIC_COOKIE >>> 16) : a.port, 2);
  for (let i = 0; i < addr.length; i++) out[4 + i] = xor ? addr[i]! ^ xor[i]! : addr[i]!;
  return out;
}

function decodeAddress(value: Buffer, xor: Buffer | null): TransportAddress | null {
  if (value.length < 4) return null;
  const family = value.readUInt8(1);
  const len = family === FAMILY_V4 ? 4 : family === FAMILY_V6 ? 16 : -1;
  if (len < 0 || value.length !== 4 + len) return null;
  const raw = Buffer.alloc(len);
  for (let i = 0; i < len; i++) raw[i] = xor ? value[4 + i]! ^ xor[i]! : value[4 + i]!;
  const port = xor ? value.readUInt16BE(2) ^ (STUN_MAGIC_COOKIE >>> 16) : value.readUInt16BE(2);
  return { family: family === FAMILY_V4 ? 'IPv4' : 'IPv6', address: formatIp({ family: family === FAMILY_V4 ? 4 : 6, bytes: raw }, 'hex'), port };
}

/** encodeXorMappedAddress is the value of an XOR-MAPPED-ADDRESS for a, in a message with this transaction id. */
export function encodeXorMappedAddress(a: TransportAddress, transactionId: Buffer): Buffer {
  return encodeAddress(a, xorKey(transactionId));
}

/** decodeXorMappedAddress reads an XOR-MAPPED-ADDRESS value; null when its family or length is wrong. */
export function decodeXorMappedAddress(value: Buffer, transactionId: Buffer): TransportAddress | null {
  return decodeAddress(value, xorKey(transactionId));
}

export function encodeMappedAddress(a: TransportAddress): Buffer {
  return encodeAddress(a, null);
}

/** decodeMappedAddress reads a MAPPED-ADDRESS value; null when its family or length is wrong. */
export function decodeMappedAddress(value: Buffer): TransportAddress | null {
  return decodeAddress(value, null);
}

/**
 * toTransportAddress turns what dgram reports (rinfo) into a TransportAddress. An IPv4-mapped IPv6
 * address (a dual-stack socket hearing an IPv4 client) is the IPv4 address it carries.
 */
export function toTransportAddress(rinfo: { address: string; port: number }): TransportAddress {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(rinfo.address);
  if (mapped) return { family: 'IPv4', address: mapped[1]!, port: rinfo.port };
  return { family: isIPv6(rinfo.address) ? 'IPv6' : 'IPv4', address: rinfo.address, port: rinfo.port };
}

/** sameTransportAddress compares two addresses as endpoints (IPv4-mapped IPv6 equals its IPv4; IPv6 by bytes). */
export function sameTransportAddress(a: { address: string; port: number }, b: { address: string; port: number }): boolean {
  const x = toTransportAddress(a);
  const y = toTransportAddress(b);
  if (x.port !== y.port || x.family !== y.family) return false;
  if (x.family === 'IPv4') return x.address === y.address;
  const [bx, by] = [addressBytes(x.address, 'IPv6'), addressBytes(y.address, 'IPv6')];
  return bx !== null && by !== null && Buffer.from(bx).equals(Buffer.from(by));
}
