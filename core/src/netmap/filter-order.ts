import type { FilterRule } from './types';

/** compareStrings orders as Rego (Go) does for the ASCII values filters hold: by bytes. */
const compareStrings = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function compareArrays<T>(a: readonly T[], b: readonly T[], cmp: (x: T, y: T) => number): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = cmp(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

const comparePorts = (a: readonly [number, number], b: readonly [number, number]) => a[0] - b[0] || a[1] - b[1];

/**
 * compareFilters orders packet filter entries as Rego's sort orders objects, by their sorted keys
 * (dstIps, dstPorts, proto, srcIps): the order of a NetworkMap's packetFilter, so that a filter the
 * controller expands equals the policy's own netmap.
 */
export function compareFilters(a: FilterRule, b: FilterRule): number {
  return (
    compareArrays(a.dstIps ?? [], b.dstIps ?? [], compareStrings) ||
    compareArrays(a.dstPorts, b.dstPorts, comparePorts) ||
    compareStrings(a.proto, b.proto) ||
    compareArrays(a.srcIps, b.srcIps, compareStrings)
  );
}
