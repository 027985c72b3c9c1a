/**
 * The address and port sets of the packet filter, in the form nft takes: no overlapping elements
 * and hosts written bare. Addresses are parsed by net/.
 */
import { errors } from '../../errors';
import { comparePrefixes, formatPrefix, maskPrefix, parseAddressWithLength, prefixContains, whyNotPrefix, type IpPrefix } from '../../net';

/** parseFilterPrefix reads "100.64.0.1", "10.20.0.0/16" or "fd7a::/64" (host bits cleared), or refuses the filter. */
function parseFilterPrefix(text: string, field: string): IpPrefix {
  const parsed = parseAddressWithLength(text);
  if (!parsed) throw errors.packetFilterInvalid(`${field} "${text}" ${whyNotPrefix(text)}`);
  return maskPrefix(parsed.ip, parsed.length);
}

/**
 * normalizePrefixes dedupes and drops prefixes covered by a broader one: nft refuses overlapping
 * intervals in a set, and a policy may well list both a subnet and a host inside it.
 * Returns the IPv4 and IPv6 elements, sorted, as nft set elements.
 */
export function normalizePrefixes(list: readonly string[], field: string): { v4: string[]; v6: string[] } {
  const parsed = list.map((t) => parseFilterPrefix(t, field)).sort((a, b) => a.length - b.length);
  const kept: IpPrefix[] = [];
  for (const p of parsed) if (!kept.some((k) => prefixContains(k, p))) kept.push(p);
  const text = (p: IpPrefix) => formatPrefix(p, { bareHost: true, mapped: 'hex' });
  return {
    v4: kept.filter((p) => p.family === 4).sort(comparePrefixes).map(text),
    v6: kept.filter((p) => p.family === 6).sort(comparePrefixes).map(text),
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
