import { isIPv4, isIPv6 } from 'node:net';
import { errors } from '../../errors';

/** One parsed prefix: family, network address as a number, prefix length. */
export interface Prefix {
  family: 4 | 6;
  network: bigint;
  length: number;
}

function v4ToBig(a: string): bigint {
  return a.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
}

function v6ToBig(a: string): bigint {
  let text = a;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = v4ToBig(v4[1]);
    text = text.slice(0, -v4[1].length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === null ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function bigToV4(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');
}

function bigToV6(n: bigint): string {
  const groups: number[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(Number((n >> s) & 0xffffn));
  // Compress the longest run of zero groups (RFC 5952), when it is at least two long.
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
  if (best === -1) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** parsePrefix reads "100.64.0.1", "10.20.0.0/16" or "fd7a::/64"; host bits are cleared. */
export function parsePrefix(text: string, field: string): Prefix {
  const slash = text.indexOf('/');
  const addr = slash === -1 ? text : text.slice(0, slash);
  const family = isIPv4(addr) ? 4 : isIPv6(addr) ? 6 : null;
  if (family === null) throw errors.packetFilterInvalid(`${field} "${text}" is not an IPv4/IPv6 address or CIDR`);
  const max = family === 4 ? 32 : 128;
  let length = max;
  if (slash !== -1) {
    const lenText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) {
      throw errors.packetFilterInvalid(`${field} "${text}" has a prefix length outside 0..${max}`);
    }
    length = Number(lenText);
  }
  const n = family === 4 ? v4ToBig(addr) : v6ToBig(addr);
  const hostBits = BigInt(max - length);
  return { family, network: (n >> hostBits) << hostBits, length };
}

export function formatPrefix(p: Prefix): string {
  const addr = p.family === 4 ? bigToV4(p.network) : bigToV6(p.network);
  return p.length === (p.family === 4 ? 32 : 128) ? addr : `${addr}/${p.length}`;
}

function covers(outer: Prefix, inner: Prefix): boolean {
  if (outer.family !== inner.family || outer.length > inner.length) return false;
  const shift = BigInt((outer.family === 4 ? 32 : 128) - outer.length);
  return inner.network >> shift === outer.network >> shift;
}

/**
 * normalizePrefixes dedupes and drops prefixes covered by a broader one: nft refuses overlapping
 * intervals in a set, and a policy may well list both a subnet and a host inside it.
 * Returns the IPv4 and IPv6 elements, sorted, as nft set elements.
 */
export function normalizePrefixes(list: readonly string[], field: string): { v4: string[]; v6: string[] } {
  const parsed = list.map((t) => parsePrefix(t, field)).sort((a, b) => a.length - b.length);
  const kept: Prefix[] = [];
  for (const p of parsed) if (!kept.some((k) => covers(k, p))) kept.push(p);
  const order = (a: Prefix, b: Prefix) => (a.network < b.network ? -1 : a.network > b.network ? 1 : a.length - b.length);
  return {
    v4: kept.filter((p) => p.family === 4).sort(order).map(formatPrefix),
    v6: kept.filter((p) => p.family === 6).sort(order).map(formatPrefix),
  };
}

/** mergePortRanges validates [from, to] pairs and merges overlapping or touching ones. */
export function mergePortRanges(ranges: ReadonlyArray<readonly [number, number]>, field: string): Array<[number, number]> {
  const checked = ranges.map((r) => {
    if (!Array.isArray(r) || r.length !== 2) throw errors.packetFilterInvalid(`${field} entry ${JSON.stringify(r)} is not a [from, to] pair`);
    const [from, to] = r;
    const ok = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535;
    if (!ok(from) || !ok(to) || from > to) {
      throw errors.packetFilterInvalid(`${field} entry [${String(from)}, ${String(to)}] must be whole numbers 0..65535 with from <= to`);
    }
    return [from, to] as [number, number];
  });
  checked.sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const r of checked) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}
