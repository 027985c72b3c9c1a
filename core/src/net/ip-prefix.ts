/** IP prefixes (CIDR): parsing, canonical text, containment and order. */
import { addressBits, formatIp, parseIp, type IpAddress, type IpFamily, type MappedStyle } from './ip-address';

/** A prefix: the network address (host bits cleared) and its length in bits. */
export interface IpPrefix {
  family: IpFamily;
  bytes: Uint8Array;
  length: number;
}

/** An address written with a prefix length, host bits kept (an interface address such as 100.64.0.1/10). */
export interface IpAddressWithLength {
  ip: IpAddress;
  length: number;
}

/** parseAddressWithLength reads "addr" or "addr/len" keeping host bits; a bare address has the full length. */
export function parseAddressWithLength(text: string): IpAddressWithLength | null {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return null;
  const max = addressBits(ip.family);
  if (slash < 0) return { ip, length: max };
  const len = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(len) || Number(len) > max) return null;
  return { ip, length: Number(len) };
}

/** whyNotPrefix says what is wrong with a text parseAddressWithLength refused, for error messages. */
export function whyNotPrefix(text: string): string {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  return ip ? `has a prefix length outside 0..${addressBits(ip.family)}` : 'is not an IPv4/IPv6 address or CIDR';
}

/** maskPrefix clears the host bits of an address for a prefix of the given length. */
export function maskPrefix(ip: IpAddress, length: number): IpPrefix {
  const bytes = ip.bytes.slice();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, length - i * 8));
    bytes[i] &= keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
  }
  return { family: ip.family, bytes, length };
}

/** parsePrefix reads "addr/len" or a bare address (a host prefix), clearing host bits; null when it is not one. */
export function parsePrefix(text: string): IpPrefix | null {
  const a = parseAddressWithLength(text);
  return a ? maskPrefix(a.ip, a.length) : null;
}

export interface PrefixFormat {
  /** Write a host prefix (/32, /128) as the bare address. Default false. */
  bareHost?: boolean;
  mapped?: MappedStyle;
}

/** formatPrefix writes a prefix as network/length. */
export function formatPrefix(p: IpPrefix, format: PrefixFormat = {}): string {
  const addr = formatIp(p, format.mapped);
  return format.bareHost && p.length === addressBits(p.family) ? addr : `${addr}/${p.length}`;
}

/** prefixContains is true when every address of inner (a prefix or an address) lies in outer. */
export function prefixContains(outer: IpPrefix, inner: IpPrefix | IpAddress): boolean {
  const innerLength = 'length' in inner ? inner.length : addressBits(inner.family);
  if (outer.family !== inner.family || outer.length > innerLength) return false;
  const full = outer.length >> 3;
  for (let i = 0; i < full; i++) if (outer.bytes[i] !== inner.bytes[i]) return false;
  const rest = outer.length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (outer.bytes[full] & mask) === (inner.bytes[full] & mask);
}

/** prefixesOverlap is true when the prefixes share an address: one then contains the other. */
export function prefixesOverlap(a: IpPrefix, b: IpPrefix): boolean {
  return prefixContains(a, b) || prefixContains(b, a);
}

/** comparePrefixes orders IPv4 before IPv6, then by network address, then shorter first. */
export function comparePrefixes(a: IpPrefix, b: IpPrefix): number {
  if (a.family !== b.family) return a.family - b.family;
  for (let i = 0; i < a.bytes.length; i++) if (a.bytes[i] !== b.bytes[i]) return a.bytes[i] - b.bytes[i];
  return a.length - b.length;
}
