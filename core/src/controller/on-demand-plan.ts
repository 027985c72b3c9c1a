/**
 * On-demand plan: under a topology whose hubs forward end to end (hubForwarding end-to-end,
 * docs/hub-end-to-end.md), which remote spokes each node's map offers on demand (map.onDemand),
 * and through which hubs' relay forwarders. A spoke of class k is offered the members of class c
 * when both are spokes, the access policy lets them talk (reaches) and the topology gives them no
 * direct tunnel (they talk through a hub), and some hub with a relay offer serves both (the hub's
 * relay may serve them: relay-plan's rule). Nothing is configured at rest: the spoke adds the
 * entry as a WireGuard peer only while the two talk. Like peer lists, the offer depends on the
 * classes alone, so it is one frozen list per class, members in id order, shared by every map.
 */
import type { NodeInfo } from '../api/node-info';
import type { OnDemandPeer, PeerNode, RelayOffer } from '../netmap/types';
import type { AccessIndex, IndexedNode } from './access-index';
import { sortedPosition } from './sorted-position';
import { Topology } from './topology';

const NO_ENTRIES: readonly OnDemandPeer[] = Object.freeze([]);

/** What the plan reads of a mesh node (a MeshNode). */
export interface PlanNode extends IndexedNode {
  cls: number;
  role: string;
  entry: PeerNode;
  info: NodeInfo;
  record: { relay?: RelayOffer | null };
}

/** A hub whose relay forwarder may carry on-demand pairs. */
export interface RelayHub {
  id: string;
  cls: number;
  node: PlanNode;
  port: number;
}

/** relayHubsOf: the live hubs with a relay offer, in the order spokes prefer them (hubs selector rank, then id). */
export function relayHubsOf(order: readonly PlanNode[], topology: Topology): RelayHub[] {
  const out: Array<RelayHub & { rank: number }> = [];
  for (const n of order) {
    if (n.cls < 0 || !Topology.isHub(n.role) || !n.record.relay) continue;
    out.push({ id: n.id, cls: n.cls, node: n, port: n.record.relay.port, rank: topology.hubRank(n.info) });
  }
  out.sort((a, b) => a.rank - b.rank || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return out.map(({ rank: _rank, ...h }) => h);
}

/** hubServes: the hub's relay may serve members of class k (relay-plan's relayedByOf rule). */
export function hubServes(index: AccessIndex, hub: RelayHub, k: number): boolean {
  return index.sees(hub.cls, k) && index.mayRelay(k, hub.node, hub.port);
}

/**
 * One frozen OnDemandPeer per peer entry and via list: entries are replaced (never edited) when a
 * node changes, so an unchanged node keeps its object and its JSON text in every map.
 */
const entries = new WeakMap<PeerNode, Map<string, OnDemandPeer>>();

function onDemandEntry(entry: PeerNode, via: readonly string[], viaKey: string): OnDemandPeer {
  let byVia = entries.get(entry);
  if (!byVia) entries.set(entry, (byVia = new Map()));
  let out = byVia.get(viaKey);
  if (!out) {
    out = Object.freeze({ id: entry.id, name: entry.name, wgKey: entry.wgKey, allowedIps: entry.allowedIps, via: via as string[] });
    byVia.set(viaKey, out);
  }
  return out;
}

/**
 * onDemandList: what members of class k are offered, sorted by id (members of k itself included
 * when k may reach itself; a node's own map leaves itself out). Empty for hubs, cut-off nodes and
 * topologies that forward hop by hop.
 */
export function onDemandList(index: AccessIndex, order: readonly PlanNode[], hubs: readonly RelayHub[], k: number): readonly OnDemandPeer[] {
  if (k < 0 || !index.topology.endToEnd || hubs.length === 0) return NO_ENTRIES;
  const classes = index.classes;
  const rk = classes[k]!.role;
  if (Topology.isHub(rk)) return NO_ENTRIES;
  const mine = hubs.filter((h) => hubServes(index, h, k));
  if (mine.length === 0) return NO_ENTRIES;
  // Per class: the hubs that serve the pair (null: not offered).
  const via: Array<{ ids: readonly string[]; key: string } | null> = new Array(classes.length).fill(null);
  for (const c of classes) {
    if (c.members.size === 0 || Topology.isHub(c.role) || !index.reaches(k, c.id) || index.sees(k, c.id)) continue;
    const ids = mine.filter((h) => hubServes(index, h, c.id)).map((h) => h.id);
    if (ids.length > 0) via[c.id] = { ids: Object.freeze(ids), key: ids.join(',') };
  }
  const out: OnDemandPeer[] = [];
  for (const n of order) {
    const v = n.cls >= 0 ? via[n.cls] : null;
    if (v) out.push(onDemandEntry(n.entry, v.ids, v.key));
  }
  return out.length === 0 ? NO_ENTRIES : Object.freeze(out);
}

/** offersOnDemand: a pair of classes talks end to end through a hub relay when on demand (relay-plan links them at hubs). */
export function offersOnDemand(index: AccessIndex, a: number, b: number): boolean {
  if (a < 0 || b < 0 || !index.topology.endToEnd) return false;
  const ra = index.classes[a]!.role;
  const rb = index.classes[b]!.role;
  return !Topology.isHub(ra) && !Topology.isHub(rb) && !index.sees(a, b) && index.reaches(a, b);
}

const sameStrings = (a: readonly string[], b: readonly string[]) => a === b || (a.length === b.length && a.every((x, i) => x === b[i]));

/** sameOnDemandPeer compares two entries field by field (by reference first). */
export function sameOnDemandPeer(a: OnDemandPeer, b: OnDemandPeer): boolean {
  return a === b || (a.id === b.id && a.name === b.name && a.wgKey === b.wgKey && sameStrings(a.allowedIps, b.allowedIps) && sameStrings(a.via, b.via));
}

/** OnDemandChange: the entries that appear or change, and the ids that go, between two lists sorted by id. */
export interface OnDemandChange {
  upserted: OnDemandPeer[];
  removed: string[];
}

/** diffOnDemand: one merge pass over two lists sorted by id; `skip` (a node's own id) is left out. */
export function diffOnDemand(before: readonly OnDemandPeer[], after: readonly OnDemandPeer[], skip?: string): OnDemandChange {
  const upserted: OnDemandPeer[] = [];
  const removed: string[] = [];
  if (before === after) return { upserted, removed };
  let i = 0;
  let j = 0;
  while (i < before.length || j < after.length) {
    const x = before[i];
    const y = after[j];
    if (x && y && x.id === y.id) {
      if (!sameOnDemandPeer(x, y) && y.id !== skip) upserted.push(y);
      i++;
      j++;
    } else if (y && (!x || y.id < x.id)) {
      if (y.id !== skip) upserted.push(y);
      j++;
    } else {
      if (x!.id !== skip) removed.push(x!.id);
      i++;
    }
  }
  return { upserted, removed };
}

/** withoutSelf: a class list less the node's own entry (the same list when it is not there). */
export function withoutSelf(list: readonly OnDemandPeer[], id: string): OnDemandPeer[] {
  const at = sortedPosition(list, id, (e) => e.id);
  if (list[at]?.id !== id) return list as OnDemandPeer[];
  const out = new Array<OnDemandPeer>(list.length - 1);
  for (let i = 0, j = 0; i < list.length; i++) if (i !== at) out[j++] = list[i]!;
  return Object.freeze(out) as OnDemandPeer[];
}
