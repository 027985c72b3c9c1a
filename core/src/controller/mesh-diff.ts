import { isDeepStrictEqual } from 'node:util';
import { diffFilters } from '../netmap/filter-patch';
import type { FilterRule, OnDemandPeer, PacketFilterPatch, PeerNode, Route, SelfNode } from '../netmap/types';
import { sameFilter } from './access-index';
import type { Mesh, MeshNode } from './map-builder';
import { diffOnDemand, type OnDemandChange } from './on-demand-plan';
import { sortedPosition } from './sorted-position';

/** MapChange: what changed in one node's map (a DeltaMapResponse without its versions). */
export interface MapChange {
  /** Sorted by id. */
  peersUpserted: PeerNode[];
  /** Sorted. */
  peersRemoved: string[];
  self?: SelfNode;
  packetFilter?: FilterRule[] | null;
  /** With packetFilter when only srcIps moved: the same change as a patch, for streams that take patches. */
  packetFilterPatch?: PacketFilterPatch;
  routes?: Route[];
  extensions?: Record<string, unknown>;
  /** The on-demand offer as a whole when the map starts (a list) or stops (null) carrying one; see DeltaMapResponse. */
  onDemand?: OnDemandPeer[] | null;
  /** Sorted by id. */
  onDemandUpserted?: OnDemandPeer[];
  /** Sorted. */
  onDemandRemoved?: string[];
}

/** isEmptyChange: nothing to send. */
export function isEmptyChange(c: MapChange): boolean {
  return (
    c.peersUpserted.length === 0 && c.peersRemoved.length === 0 && c.self === undefined && c.packetFilter === undefined && c.routes === undefined && c.extensions === undefined &&
    c.onDemand === undefined && c.onDemandUpserted === undefined && c.onDemandRemoved === undefined
  );
}

/**
 * setOnDemand records how a node's on-demand offer moved: before/after undefined mean the map
 * carries none (hop by hop); a whole list must leave the node out. With both present, the diff of
 * its classes' lists (classDiff, shared by every member) is narrowed to the node: its own id is
 * never in its offer.
 */
export function setOnDemand(change: MapChange, nodeId: string, before: readonly OnDemandPeer[] | undefined, after: readonly OnDemandPeer[] | undefined, classDiff?: OnDemandChange): void {
  if (before === undefined && after === undefined) return;
  if (before === undefined || after === undefined) {
    change.onDemand = after === undefined ? null : (after as OnDemandPeer[]);
    return;
  }
  const d = classDiff ?? diffOnDemand(before, after, nodeId);
  const up = d.upserted.some((e) => e.id === nodeId) ? d.upserted.filter((e) => e.id !== nodeId) : d.upserted;
  const rm = d.removed.includes(nodeId) ? d.removed.filter((id) => id !== nodeId) : d.removed;
  if (up.length > 0) change.onDemandUpserted = up;
  if (rm.length > 0) change.onDemandRemoved = rm;
}

/** sameRoutes compares two route lists, by reference first (alike nodes share one frozen list). */
export function sameRoutes(a: readonly Route[], b: readonly Route[]): boolean {
  return a === b || isDeepStrictEqual(a, b);
}

/** ownChanges fills self, packetFilter and extensions of a change when they differ between two states of a node. */
export function ownChanges(
  change: MapChange,
  before: { self: SelfNode; packetFilter: FilterRule[] | null; extensions: Readonly<Record<string, unknown>>; routes?: Route[] },
  after: { self: SelfNode; packetFilter: FilterRule[] | null; extensions: Readonly<Record<string, unknown>>; routes?: Route[] },
): MapChange {
  if (before.self !== after.self && !isDeepStrictEqual(before.self, after.self)) change.self = after.self;
  if (!sameFilter(before.packetFilter, after.packetFilter)) setFilter(change, before.packetFilter, after.packetFilter);
  if (before.routes !== undefined && after.routes !== undefined && !sameRoutes(before.routes, after.routes)) change.routes = after.routes;
  if (before.extensions !== after.extensions && !isDeepStrictEqual(before.extensions, after.extensions)) change.extensions = after.extensions as Record<string, unknown>;
  return change;
}

/** setFilter records a packet filter change: the new filter, and the patch from the old one when there is one. */
export function setFilter(change: MapChange, before: FilterRule[] | null, after: FilterRule[] | null): void {
  change.packetFilter = after;
  const patch = diffFilters(before, after);
  if (patch) change.packetFilterPatch = patch;
  else delete change.packetFilterPatch;
}

/** without gives a list sorted by id less the one id (the same array when it is absent). */
function without<T>(list: T[], id: string, idOf: (x: T) => string): T[] {
  const lo = sortedPosition(list, id, idOf);
  if (lo >= list.length || idOf(list[lo]!) !== id) return list;
  return list.slice(0, lo).concat(list.slice(lo + 1));
}

/**
 * diffMeshes gives, for every node live in both builds, what changed in its map, without
 * materialising peer lists. Whether node a saw y depends only on their classes, so nodes are grouped
 * by (old class, new class, entry changed): for each pair (a's old class, a's new class) the peers
 * that appear, go or change are found once per group, not once per node.
 */
export function diffMeshes(prev: Mesh, next: Mesh): Map<string, MapChange> {
  // Every node of either build, in id order, with its classes (-1: absent or cut off).
  const rows: Array<[MeshNode | undefined, MeshNode | undefined]> = [];
  let i = 0;
  let j = 0;
  const a = prev.order;
  const b = next.order;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (x && y && x.id === y.id) {
      rows.push([x, y]);
      i++;
      j++;
    } else if (y && (!x || y.id < x.id)) {
      rows.push([undefined, y]);
      j++;
    } else {
      rows.push([x, undefined]);
      i++;
    }
  }
  // Column groups: rows alike in (old class, new class, entry changed), members in id order.
  const groupOf = new Map<string, number>();
  const groups: Array<{ oldCls: number; newCls: number; changed: boolean; rows: number[] }> = [];
  rows.forEach(([x, y], r) => {
    const oldCls = x ? x.cls : -1;
    const newCls = y ? y.cls : -1;
    const changed = x !== undefined && y !== undefined && x.entry !== y.entry;
    const key = `${oldCls},${newCls},${changed ? 1 : 0}`;
    let g = groupOf.get(key);
    if (g === undefined) {
      g = groups.length;
      groupOf.set(key, g);
      groups.push({ oldCls, newCls, changed, rows: [] });
    }
    groups[g]!.rows.push(r);
  });
  // The groups' classes as typed arrays (-1 read as "sees nothing"), for the tight loop below.
  const G = groups.length;
  const gOld = Int32Array.from(groups, (g) => g.oldCls);
  const gNew = Int32Array.from(groups, (g) => g.newCls);
  const gChanged = Uint8Array.from(groups, (g) => (g.changed ? 1 : 0));
  const pairs = new Map<string, { upserted: PeerNode[]; removed: string[] }>();
  const pairDiff = (kOld: number, kNew: number) => {
    const key = `${kOld},${kNew}`;
    let d = pairs.get(key);
    if (d) return d;
    const rowOld = prev.index.seesRow(kOld);
    const rowNew = next.index.seesRow(kNew);
    const up: number[] = [];
    const rm: number[] = [];
    for (let i = 0; i < G; i++) {
      const o = gOld[i]!;
      const n = gNew[i]!;
      const saw = o >= 0 && rowOld[o] === 1;
      const sees = n >= 0 && rowNew[n] === 1;
      if (sees ? saw && gChanged[i] === 0 : !saw) continue;
      const g = groups[i]!;
      if (sees) for (const r of g.rows) up.push(r);
      else for (const r of g.rows) rm.push(r);
    }
    up.sort((p, q) => p - q);
    rm.sort((p, q) => p - q);
    d = { upserted: up.map((r) => rows[r]![1]!.entry), removed: rm.map((r) => rows[r]![0]!.id) };
    pairs.set(key, d);
    return d;
  };
  const out = new Map<string, MapChange>();
  const bothOnDemand = prev.topology.endToEnd && next.topology.endToEnd;
  const eitherOnDemand = prev.topology.endToEnd || next.topology.endToEnd;
  const onDemandPairs = new Map<string, OnDemandChange>();
  for (const [x, y] of rows) {
    if (!x || !y) continue;
    const d = pairDiff(x.cls, y.cls);
    const change = ownChanges(
      { peersUpserted: without(d.upserted, y.id, (p) => p.id), peersRemoved: without(d.removed, y.id, (id) => id) },
      x,
      y,
    );
    if (bothOnDemand) {
      const key = `${x.cls},${y.cls}`;
      let cd = onDemandPairs.get(key);
      if (!cd) onDemandPairs.set(key, (cd = diffOnDemand(prev.onDemandOf(x.cls), next.onDemandOf(y.cls))));
      if (cd.upserted.length > 0 || cd.removed.length > 0) setOnDemand(change, y.id, [], [], cd);
    } else if (eitherOnDemand) {
      setOnDemand(change, y.id, prev.onDemandFor(x), next.onDemandFor(y));
    }
    if (!isEmptyChange(change)) out.set(y.id, change);
  }
  return out;
}
