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
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

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

/** parseIpv6 reads hex groups with at most one "::"; null for zones, embedded IPv4 or bad groups. */
export function parseIpv6(s: string): IpBytes | null {
  if (!s.includes(':') || s.includes('.') || s.includes('%')) return null;
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (![...head, ...tail].every((g) => HEX_GROUP.test(g))) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
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
