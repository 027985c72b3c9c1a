/**
 * The address attributes of STUN: XOR-MAPPED-ADDRESS (RFC 8489 §14.2), the reflexive transport
 * address XORed with the magic cookie (and, for IPv6, the transaction id) so NATs that rewrite
 * addresses in payloads leave it alone, and MAPPED-ADDRESS (§14.1), the same in the clear, which
 * old (RFC 3489) servers send instead.
 */
import { isIPv4, isIPv6 } from 'node:net';
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

function ipv4Bytes(address: string): Buffer {
  return Buffer.from(address.split('.').map(Number));
}

/** ipv6Bytes expands an IPv6 text (with ::, or an embedded IPv4 tail) into its 16 bytes. */
function ipv6Bytes(address: string): Buffer {
  let text = address.split('%')[0]!;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = ipv4Bytes(v4[1]!);
    text = text.slice(0, -v4[1]!.length) + `${b.readUInt16BE(0).toString(16)}:${b.readUInt16BE(2).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function ipv6Text(b: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  // The canonical text form (RFC 5952): the longest run of two or more zero groups becomes ::.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
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
  if (v6 ? !isIPv6(a.address) : !isIPv4(a.address)) throw new RangeError(`"${a.address}" is not an ${a.family} address`);
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new RangeError(`port ${a.port} is outside 0..65535`);
  const addr = v6 ? ipv6Bytes(a.address) : ipv4Bytes(a.address);
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
  return family === FAMILY_V4 ? { family: 'IPv4', address: [...raw].join('.'), port } : { family: 'IPv6', address: ipv6Text(raw), port };
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
  return x.family === 'IPv4' ? x.address === y.address : ipv6Bytes(x.address).equals(ipv6Bytes(y.address));
}
