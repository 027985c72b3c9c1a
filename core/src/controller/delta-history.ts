import type { DeltaMapResponse, OnDemandPeer, PeerNode } from '../netmap/types';

/**
 * composeDeltas folds consecutive deltas (each starting where the previous ended) into one delta
 * from the first base version to the last version. Applying it to the base map gives the same map
 * as applying them one by one: the last upsert or removal of each peer wins.
 */
export function composeDeltas(deltas: readonly DeltaMapResponse[]): DeltaMapResponse {
  if (deltas.length === 0) throw new Error('composeDeltas needs at least one delta');
  const upserted = new Map<string, PeerNode>();
  const removed = new Set<string>();
  const out: DeltaMapResponse = {
    kind: 'delta',
    epoch: deltas[deltas.length - 1].epoch,
    baseVersion: deltas[0].baseVersion,
    version: deltas[deltas.length - 1].version,
    peersUpserted: [],
    peersRemoved: [],
  };
  // The on-demand offer: a whole list (or null) once a delta gives one, patched by later ones; else the upserts and removals.
  let whole: OnDemandPeer[] | null | undefined;
  const odUpserted = new Map<string, OnDemandPeer>();
  const odRemoved = new Set<string>();
  let expect = deltas[0].baseVersion;
  for (const d of deltas) {
    if (d.baseVersion !== expect) throw new Error(`delta history has a gap: expected base ${expect}, got ${d.baseVersion}`);
    expect = d.version;
    for (const id of d.peersRemoved) {
      upserted.delete(id);
      removed.add(id);
    }
    for (const p of d.peersUpserted) {
      removed.delete(p.id);
      upserted.set(p.id, p);
    }
    if (d.self !== undefined) out.self = d.self;
    if (d.packetFilter !== undefined) out.packetFilter = d.packetFilter;
    if (d.routes !== undefined) out.routes = d.routes;
    if (d.extensions !== undefined) out.extensions = d.extensions;
    if (d.onDemand !== undefined) {
      whole = d.onDemand === null ? null : [...d.onDemand];
      odUpserted.clear();
      odRemoved.clear();
    }
    if (d.onDemandUpserted === undefined && d.onDemandRemoved === undefined) continue;
    if (whole === null) continue;
    if (whole !== undefined) {
      const gone = new Set([...(d.onDemandRemoved ?? []), ...(d.onDemandUpserted ?? []).map((e) => e.id)]);
      whole = [...whole.filter((e) => !gone.has(e.id)), ...(d.onDemandUpserted ?? [])].sort(byEntryId);
      continue;
    }
    for (const id of d.onDemandRemoved ?? []) {
      odUpserted.delete(id);
      odRemoved.add(id);
    }
    for (const e of d.onDemandUpserted ?? []) {
      odRemoved.delete(e.id);
      odUpserted.set(e.id, e);
    }
  }
  if (whole !== undefined) out.onDemand = whole;
  else {
    if (odUpserted.size > 0) out.onDemandUpserted = [...odUpserted.values()].sort(byEntryId);
    if (odRemoved.size > 0) out.onDemandRemoved = [...odRemoved].sort();
  }
  out.peersUpserted = [...upserted.values()].sort(byEntryId);
  out.peersRemoved = [...removed].sort();
  return out;
}

function byEntryId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
