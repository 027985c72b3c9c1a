import { isDeepStrictEqual } from 'node:util';
import { applyFilterPatch } from './filter-patch';
import type { DeltaMapResponse, FilterRule, MapResponse, NetworkMapData, OnDemandPeer, PeerNode } from './types';

/**
 * diffMaps returns the delta that turns prev into next, or null when they are equal. Peers are sorted
 * by id in every map (the NetworkMap contract), so one merge pass finds the changes; peers shared by
 * reference between builds (the controller's MapBuilder does this) compare without a deep walk.
 */
export function diffMaps(prev: NetworkMapData, next: NetworkMapData): DeltaMapResponse | null {
  const a = prev.peers;
  const b = next.peers;
  const peersUpserted: PeerNode[] = [];
  const peersRemoved: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const pa = i < a.length ? a[i] : undefined;
    const pb = j < b.length ? b[j] : undefined;
    if (pa && pb && pa.id === pb.id) {
      if (pa !== pb && !isDeepStrictEqual(pa, pb)) peersUpserted.push(pb);
      i++;
      j++;
    } else if (pb && (!pa || pb.id < pa.id)) {
      peersUpserted.push(pb);
      j++;
    } else if (pa) {
      peersRemoved.push(pa.id);
      i++;
    }
  }
  const delta: DeltaMapResponse = {
    kind: 'delta',
    epoch: next.epoch,
    baseVersion: prev.version,
    version: next.version,
    peersUpserted,
    peersRemoved,
  };
  let changed = peersUpserted.length > 0 || peersRemoved.length > 0;
  if (!isDeepStrictEqual(prev.self, next.self)) {
    delta.self = next.self;
    changed = true;
  }
  if (!isDeepStrictEqual(prev.packetFilter, next.packetFilter)) {
    delta.packetFilter = next.packetFilter;
    changed = true;
  }
  if (!isDeepStrictEqual(prev.routes, next.routes)) {
    delta.routes = next.routes;
    changed = true;
  }
  if (!isDeepStrictEqual(prev.extensions, next.extensions)) {
    delta.extensions = next.extensions;
    changed = true;
  }
  if (prev.onDemand === undefined || next.onDemand === undefined) {
    if (prev.onDemand !== next.onDemand) {
      delta.onDemand = next.onDemand ?? null;
      changed = true;
    }
  } else {
    const d = diffById(prev.onDemand, next.onDemand);
    if (d.upserted.length > 0) delta.onDemandUpserted = d.upserted;
    if (d.removed.length > 0) delta.onDemandRemoved = d.removed;
    changed ||= d.upserted.length > 0 || d.removed.length > 0;
  }
  return changed ? delta : null;
}

/** diffById: the entries of next that are new or differ from prev, and the ids of prev that went (both sorted by id). */
function diffById<T extends { id: string }>(prev: readonly T[], next: readonly T[]): { upserted: T[]; removed: string[] } {
  const before = new Map(prev.map((x) => [x.id, x]));
  const upserted = next.filter((x) => {
    const b = before.get(x.id);
    return b === undefined || (b !== x && !isDeepStrictEqual(b, x));
  });
  const ids = new Set(next.map((x) => x.id));
  return { upserted, removed: prev.filter((x) => !ids.has(x.id)).map((x) => x.id) };
}

/**
 * patchOnDemand: the map's on-demand offer after a delta: the whole list when the delta gives one
 * (null: the map no longer carries one), else the list patched by upserts and removals.
 */
function patchOnDemand(current: NetworkMapData['onDemand'], res: DeltaMapResponse): OnDemandPeer[] | undefined {
  if (res.onDemand !== undefined) return res.onDemand ?? undefined;
  if (res.onDemandUpserted === undefined && res.onDemandRemoved === undefined) return current;
  return patchPeers(current ?? [], res.onDemandUpserted ?? [], res.onDemandRemoved ?? []);
}

/** MapDeltaMismatch is thrown when a delta does not start from the map it is applied to. */
export class MapDeltaMismatch extends Error {
  constructor(readonly have: number, readonly base: number) {
    super(`map delta starts at version ${base} but the local map is at version ${have}`);
  }
}

/**
 * applyMapResponse returns the map after a full or delta response; it never mutates its input.
 * A packetFilterPatch that does not fit the local filter throws FilterPatchMismatch (ask for a full map).
 */
export function applyMapResponse(current: NetworkMapData | null, res: MapResponse): NetworkMapData {
  if (res.kind === 'full') return res.map;
  if (!current || current.epoch !== res.epoch || current.version !== res.baseVersion) {
    throw new MapDeltaMismatch(current?.version ?? -1, res.baseVersion);
  }
  let packetFilter: FilterRule[] | null = current.packetFilter;
  if (res.packetFilter !== undefined) packetFilter = res.packetFilter;
  else if (res.packetFilterPatch !== undefined) packetFilter = applyFilterPatch(current.packetFilter, res.packetFilterPatch);
  const next: NetworkMapData = {
    ...current,
    version: res.version,
    self: res.self ?? current.self,
    peers: patchPeers(current.peers, res.peersUpserted, res.peersRemoved),
    packetFilter,
    routes: res.routes ?? current.routes,
    extensions: res.extensions ?? current.extensions,
  };
  const onDemand = patchOnDemand(current.onDemand, res);
  if (onDemand === undefined) delete next.onDemand;
  else next.onDemand = onDemand;
  return next;
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const strictlySorted = (xs: readonly { id: string }[]) => xs.every((p, i) => i === 0 || xs[i - 1]!.id < p.id);

/**
 * patchPeers: the peer list less the removed ids, with the upserted peers (an upsert wins over a
 * removal of the same id). Both lists are sorted by id (the NetworkMap contract), so one merge pass
 * does it: a delta of one peer to a map of thousands costs no map and no sort. Lists that break the
 * contract take the slow path with the same outcome.
 */
function patchPeers<T extends { id: string }>(current: readonly T[], upserted: readonly T[], removedIds: readonly string[]): T[] {
  const removed = new Set(removedIds);
  if (!strictlySorted(current) || !strictlySorted(upserted)) {
    const peers = new Map<string, T>();
    for (const p of current) if (!removed.has(p.id)) peers.set(p.id, p);
    for (const p of upserted) peers.set(p.id, p);
    return [...peers.values()].sort(byId);
  }
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < current.length || j < upserted.length) {
    const a = current[i];
    const b = upserted[j];
    if (b && (!a || b.id <= a.id)) {
      out.push(b);
      j++;
      if (a && a.id === b.id) i++;
    } else {
      if (!removed.has(a!.id)) out.push(a!);
      i++;
    }
  }
  return out;
}
