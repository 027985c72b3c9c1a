import type { FilterRule, PacketFilterPatch, PacketFilterPatchEntry } from './types';

/** FilterPatchMismatch: a patch does not fit the filter it is applied to (the agent then asks for a full map). */
export class FilterPatchMismatch extends Error {
  constructor(why: string) {
    super(`packet filter patch does not fit the local filter: ${why}`);
  }
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const EMPTY: readonly string[] = Object.freeze([]);

const isSorted = (xs: readonly string[]) => xs.every((x, i) => i === 0 || byString(xs[i - 1]!, x) < 0);

/** Added and removed addresses between two sorted address lists, once per pair of frozen lists. */
interface SrcChange {
  next: readonly string[];
  add: readonly string[];
  remove: readonly string[];
  /** Both lists are sorted and unique, as a patch needs them. */
  sorted: boolean;
}

/**
 * A grant's srcIps is one frozen array shared by every entry built from it, so a join that adds an
 * address to it changes the same pair of arrays in a thousand filters: the difference is computed
 * once per pair and its lists are shared (and so serialised once, see map-response-json.ts).
 */
const lastChange = new WeakMap<readonly string[], SrcChange>();

/** srcChange: what joins and leaves a sorted, de-duplicated address list going from prev to next. */
function srcChange(prev: readonly string[], next: readonly string[]): SrcChange {
  const cacheable = Object.isFrozen(prev) && Object.isFrozen(next);
  if (cacheable) {
    const hit = lastChange.get(prev);
    if (hit && hit.next === next) return hit;
  }
  const add: string[] = [];
  const remove: string[] = [];
  const sorted = isSorted(prev) && isSorted(next);
  let i = 0;
  let j = 0;
  while (sorted && (i < prev.length || j < next.length)) {
    const c = i >= prev.length ? 1 : j >= next.length ? -1 : byString(prev[i]!, next[j]!);
    if (c === 0) {
      i++;
      j++;
    } else if (c < 0) remove.push(prev[i++]!);
    else add.push(next[j++]!);
  }
  const out: SrcChange = { next, add: add.length ? Object.freeze(add) : EMPTY, remove: remove.length ? Object.freeze(remove) : EMPTY, sorted };
  if (cacheable) lastChange.set(prev, out);
  return out;
}


function samePorts(a: ReadonlyArray<readonly [number, number]>, b: ReadonlyArray<readonly [number, number]>): boolean {
  return a === b || (a.length === b.length && a.every((p, k) => p[0] === b[k]![0] && p[1] === b[k]![1]));
}

function sameStrings(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * diffFilters gives the patch that turns prev into next when only srcIps moved: both filters have
 * the same number of entries, and the entry at each position keeps its dstIps, dstPorts and proto
 * (so, filters being sorted by those keys first, every entry keeps its place). Null when the change
 * has another shape (an entry came or went, a filter is null), when srcIps are not sorted lists, or
 * when the patch would carry as many addresses as the filter itself: then the whole filter travels.
 */
export function diffFilters(prev: readonly FilterRule[] | null, next: readonly FilterRule[] | null): PacketFilterPatch | null {
  if (prev === null || next === null || prev.length !== next.length || prev.length === 0) return null;
  const changes: PacketFilterPatchEntry[] = [];
  let moved = 0;
  let total = 0;
  for (let at = 0; at < next.length; at++) {
    const a = prev[at]!;
    const b = next[at]!;
    total += b.srcIps.length;
    if (a === b) continue;
    if (a.proto !== b.proto || !samePorts(a.dstPorts, b.dstPorts) || !sameStrings(a.dstIps, b.dstIps)) return null;
    if (a.srcIps === b.srcIps) continue;
    const c = srcChange(a.srcIps, b.srcIps);
    if (!c.sorted) return null;
    if (c.add.length === 0 && c.remove.length === 0) continue;
    moved += c.add.length + c.remove.length;
    changes.push({ at, add: c.add as string[], remove: c.remove as string[] });
  }
  if (changes.length === 0 || moved >= total) return null;
  return { entries: next.length, changes };
}

function invalid(why: string): never {
  throw new TypeError(`map delta has a malformed packetFilterPatch: ${why}`);
}

/** checkFilterPatch: the patch has the wire shape (it came from the network). */
function checkFilterPatch(p: unknown): asserts p is PacketFilterPatch {
  if (typeof p !== 'object' || p === null) invalid('not an object');
  const o = p as Record<string, unknown>;
  if (!Number.isInteger(o.entries) || (o.entries as number) < 0) invalid('entries is not a count');
  if (!Array.isArray(o.changes)) invalid('changes is not a list');
  let last = -1;
  for (const c of o.changes as unknown[]) {
    const e = c as Record<string, unknown>;
    if (typeof e !== 'object' || e === null || !Number.isInteger(e.at) || (e.at as number) <= last) invalid('changes are not at increasing positions');
    last = e.at as number;
    for (const k of ['add', 'remove'] as const) {
      const xs = e[k];
      if (!Array.isArray(xs) || !xs.every((x) => typeof x === 'string') || !isSorted(xs as string[])) invalid(`${k} at ${last} is not a sorted list of addresses`);
    }
  }
}

/**
 * applyFilterPatch gives the filter after a patch (diffFilters' inverse); it never mutates its
 * input. Throws FilterPatchMismatch when the patch does not fit (other entry count, an address to
 * remove that is not there or one to add that already is), TypeError when it is malformed.
 */
export function applyFilterPatch(filter: readonly FilterRule[] | null, patch: PacketFilterPatch): FilterRule[] {
  checkFilterPatch(patch);
  if (filter === null) throw new FilterPatchMismatch('the local map has no packet filter');
  if (filter.length !== patch.entries) throw new FilterPatchMismatch(`it is for ${patch.entries} entries, the filter has ${filter.length}`);
  const out = filter.slice();
  for (const { at, add, remove } of patch.changes) {
    if (at >= out.length) throw new FilterPatchMismatch(`entry ${at} is past the end`);
    const rule = out[at]!;
    out[at] = { ...rule, srcIps: patchList(rule.srcIps, add, remove, at) };
  }
  return out;
}

/** patchList merges sorted additions into and drops sorted removals from a sorted list. */
function patchList(list: readonly string[], add: readonly string[], remove: readonly string[], at: number): string[] {
  const out: string[] = [];
  let r = 0;
  let a = 0;
  for (const x of list) {
    while (a < add.length && byString(add[a]!, x) < 0) out.push(add[a++]!);
    if (a < add.length && add[a] === x) throw new FilterPatchMismatch(`entry ${at} already holds ${x}`);
    if (r < remove.length && remove[r] === x) {
      r++;
      continue;
    }
    if (r < remove.length && byString(remove[r]!, x) < 0) throw new FilterPatchMismatch(`entry ${at} does not hold ${remove[r]}`);
    out.push(x);
  }
  if (r < remove.length) throw new FilterPatchMismatch(`entry ${at} does not hold ${remove[r]}`);
  while (a < add.length) out.push(add[a++]!);
  return out;
}
