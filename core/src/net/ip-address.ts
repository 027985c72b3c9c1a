/**
 * IP addresses as bytes, parsed strictly with ipaddr.js: dotted-quad IPv4 without leading zeros
 * (so 010.0.0.1 is refused rather than read as octal or decimal) and IPv6 without a zone.
 */
import ipaddr from 'ipaddr.js';

export type IpFamily = 4 | 6;

/** An address: 4 bytes for IPv4, 16 for IPv6. */
export interface IpAddress {
  family: IpFamily;
  bytes: Uint8Array;
}

/**
 * How an IPv4-mapped IPv6 address is written: 'dotted' is RFC 5952's recommendation and how
 * WireGuard (Go's netip) prints it (::ffff:1.2.3.4); 'hex' keeps the hex groups (::ffff:102:304).
 */
export type MappedStyle = 'dotted' | 'hex';

/** parseIp reads an IPv4 or IPv6 address; null when the text is not one. */
export function parseIp(text: string): IpAddress | null {
  if (text.includes(':')) {
    if (text.includes('%')) return null;
    let hex = text;
    const tail = text.slice(text.lastIndexOf(':') + 1);
    if (tail.includes('.')) {
      // A dotted tail is written as two hex groups first: ipaddr.js reads ::a.b.c.d as ::ffff:a.b.c.d.
      if (!ipaddr.IPv4.isValidFourPartDecimal(tail)) return null;
      const [a, b, c, d] = ipaddr.IPv4.parse(tail).toByteArray();
      hex = `${text.slice(0, text.length - tail.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
    }
    if (!ipaddr.IPv6.isValid(hex)) return null;
    return { family: 6, bytes: Uint8Array.from(ipaddr.IPv6.parse(hex).toByteArray()) };
  }
  if (!ipaddr.IPv4.isValidFourPartDecimal(text)) return null;
  return { family: 4, bytes: Uint8Array.from(ipaddr.IPv4.parse(text).toByteArray()) };
}

/** formatIp writes an address in its canonical form (RFC 5952 for IPv6). */
export function formatIp(ip: IpAddress, mapped: MappedStyle = 'dotted'): string {
  const addr = ipaddr.fromByteArray([...ip.bytes]);
  if (addr.kind() === 'ipv4') return addr.toString();
  const v6 = addr as ipaddr.IPv6;
  if (mapped === 'dotted' && v6.isIPv4MappedAddress()) return `::ffff:${v6.toIPv4Address().toString()}`;
  return v6.toRFC5952String();
}

/** addressBits is the width of a family's addresses: 32 or 128. */
export function addressBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

/** ipToBigInt is the address as one unsigned number, for arithmetic on addresses. */
export function ipToBigInt(ip: IpAddress): bigint {
  let n = 0n;
  for (const b of ip.bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/** ipFromBigInt is the address of the family whose number is n (taken modulo the family's width). */
export function ipFromBigInt(family: IpFamily, n: bigint): IpAddress {
  const bytes = new Uint8Array(family === 4 ? 4 : 16);
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return { family, bytes };
}
