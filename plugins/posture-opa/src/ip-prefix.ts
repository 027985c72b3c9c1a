/**
 * IP addresses and prefixes, parsed strictly, so the netmap classes can tell which CIDR selectors
 * hold a node's address the way Rego's net.cidr_contains does. Anything unusual (leading zeros,
 * embedded IPv4 in IPv6, IPv4-mapped addresses) is reported as "unsure" instead of guessed: the
 * caller then evaluates the policy directly.
 */

/** An address as bytes: 4 for IPv4, 16 for IPv6. */
export type IpBytes = Uint8Array;

export interface IpPrefix {
  bytes: IpBytes;
  bits: number;
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** parseIpv4 reads a dotted quad without leading zeros; null for anything else. */
export function parseIpv4(s: string): IpBytes | null {
  const m = V4.exec(s);
  if (!m) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = m[i + 1]!;
    if (part.length > 1 && part[0] === '0') return null;
    const v = Number(part);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

/** hexGroup is the value of 1-4 hex digits, or -1 for anything else. */
function hexGroup(g: string): number {
  if (g.length < 1 || g.length > 4) return -1;
  let v = 0;
  for (let i = 0; i < g.length; i++) {
    const c = g.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/** parseIpv6 reads hex groups with at most one "::"; null for zones, embedded IPv4 or bad groups. */
export function parseIpv6(s: string): IpBytes | null {
  if (!s.includes(':') || s.includes('.') || s.includes('%')) return null;
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = halves.length === 2 && halves[1] !== '' ? halves[1]!.split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const out = new Uint8Array(16);
  const put = (groups: string[], at: number): boolean => {
    for (let i = 0; i < groups.length; i++) {
      const v = hexGroup(groups[i]!);
      if (v < 0) return false;
      out[2 * (at + i)] = v >> 8;
      out[2 * (at + i) + 1] = v & 0xff;
    }
    return true;
  };
  return put(head, 0) && put(tail, 8 - tail.length) ? out : null;
}

export const parseIp = (s: string): IpBytes | null => parseIpv4(s) ?? parseIpv6(s);

/** parsePrefix reads "addr/bits"; null when either part is not plainly valid. */
export function parsePrefix(s: string): IpPrefix | null {
  const slash = s.indexOf('/');
  if (slash < 0 || slash !== s.lastIndexOf('/')) return null;
  const bytes = parseIp(s.slice(0, slash));
  const bitsText = s.slice(slash + 1);
  if (!bytes || !/^\d{1,3}$/.test(bitsText) || (bitsText.length > 1 && bitsText[0] === '0')) return null;
  const bits = Number(bitsText);
  if (bits > bytes.length * 8) return null;
  return { bytes, bits };
}

/** ambiguousFamily: an IPv4-mapped IPv6 value (::ffff:0:0/96) is read as IPv4 by Go's net package. */
function ambiguousFamily(b: IpBytes): boolean {
  if (b.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/**
 * prefixContains says whether the prefix holds the address: true, false, or null when the answer
 * could depend on how IPv4-in-IPv6 forms are read.
 */
export function prefixContains(prefix: IpPrefix, ip: IpBytes): boolean | null {
  if (prefix.bytes.length !== ip.length) {
    return ambiguousFamily(prefix.bytes) || ambiguousFamily(ip) ? null : false;
  }
  if (ambiguousFamily(prefix.bytes) || ambiguousFamily(ip)) return null;
  let bits = prefix.bits;
  for (let i = 0; i < ip.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((prefix.bytes[i]! & mask) !== (ip[i]! & mask)) return false;
  }
  return true;
}
