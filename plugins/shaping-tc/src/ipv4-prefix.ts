/**
 * IPv4 prefixes as the u32 classifier matches them: one 32-bit word under a mask. Parsing, printing
 * and overlap are core's IP module (@trellis/core/api); tc shapes IPv4 only.
 */
import { parsePrefix, type IpPrefix } from '@trellis/core/api';

export type Ipv4Prefix = IpPrefix & { family: 4 };

const isIpv4 = (p: IpPrefix): p is Ipv4Prefix => p.family === 4;

/** parseIpv4Prefix reads "a.b.c.d/len" (or a bare address as /32); null when it is not an IPv4 prefix. */
export function parseIpv4Prefix(text: string): Ipv4Prefix | null {
  const p = parsePrefix(text.trim());
  return p && isIpv4(p) ? p : null;
}

/** u32Word is the network address as the unsigned 32-bit word u32 compares. */
export function u32Word(p: Ipv4Prefix): number {
  const b = p.bytes;
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

/** prefixMask is the u32 mask of a prefix length. */
export function prefixMask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}
