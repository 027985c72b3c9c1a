import { isDeepStrictEqual } from 'node:util';
import type { DeltaMapResponse, NetworkMapData, PeerNode } from '../netmap/types';

/**
 * diffSortedMaps returns exactly what diffMaps returns, in O(peers) with a reference-equality fast
 * path: the MapBuilder shares unchanged peer entries between builds, so most peers compare by
 * pointer. Both maps' peers must be sorted by id, as MapBuilder guarantees (even after plugins).
 */
export function diffSortedMaps(prev: NetworkMapData, next: NetworkMapData): DeltaMapResponse | null {
  const a = prev.peers;
  const b = next.peers;
  const peersUpserted: PeerNode[] = [];
  const peersRemoved: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const pa = i < a.length ? a[i] : undefined;
    const pb = j < b.length ? b[j] : undefined;
    if (pa !== undefined && pa === pb) {
      i++;
      j++;
    } else if (pa && pb && pa.id === pb.id) {
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
  const delta: DeltaMapResponse = { kind: 'delta', epoch: next.epoch, baseVersion: prev.version, version: next.version, peersUpserted, peersRemoved };
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
  return changed ? delta : null;
}
