/** IPv4 prefixes as numbers: the u32 classifier matches on 32-bit words, so this is all it needs. */

export interface Ipv4Prefix {
  /** Network address as an unsigned 32-bit number (host bits cleared). */
  addr: number;
  len: number;
}

/** parseIpv4Prefix reads "a.b.c.d/len" (or a bare address as /32); null when it is not one. */
export function parseIpv4Prefix(text: string): Ipv4Prefix | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(text.trim());
  if (!m) return null;
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o) => o > 255)) return null;
  const len = m[5] === undefined ? 32 : Number(m[5]);
  if (len > 32) return null;
  const raw = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  return { addr: (raw & prefixMask(len)) >>> 0, len };
}

export function prefixMask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

export function formatIpv4Prefix(p: Ipv4Prefix): string {
  const a = p.addr;
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${p.len}`;
}

/** prefixesOverlap is true when one prefix contains the other (prefixes never partly overlap). */
export function prefixesOverlap(a: Ipv4Prefix, b: Ipv4Prefix): boolean {
  const mask = prefixMask(Math.min(a.len, b.len));
  return ((a.addr & mask) >>> 0) === ((b.addr & mask) >>> 0);
}
