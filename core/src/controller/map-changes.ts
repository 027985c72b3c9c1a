/**
 * Incremental changes: a few nodes changed in the store (a join, an endpoint change, presence, a
 * revoke, an approval, posture or tags); only what they affect is recomputed, and the result is the
 * change in every affected node's map, computed from classes without materialising or diffing other
 * nodes' peer lists. The outcome equals a full build from the same store (map-changes.test.ts
 * checks it on random meshes and changes).
 */
import type { NodeGrants } from '../api/access';
import type { NodeInfo } from '../api/node-info';
import type { FilterRule, OnDemandPeer, PeerNode, SelfNode } from '../netmap/types';
import type { NodeRecord } from '../store/store';
import { sameFilter } from './access-index';
import { EMPTY_ROUTES, extensionsOf, isLiveNode, keep, nodeInfoOf, ownIpsOf, peerEntry, relayNodesOf, relayPairsFor, sameInfo, samePeer, selfOf, type MapBuilder, type Mesh, type MeshNode } from './map-builder';
import { relayedByOf } from './relay-plan';
import { Topology } from './topology';
import { isEmptyChange, ownChanges, setFilter, setOnDemand, type MapChange } from './mesh-diff';
import { diffOnDemand, type OnDemandChange } from './on-demand-plan';
import type { PresenceState } from './presence';

export interface NodeChangesInput {
  /** The changed nodes as the store has them now (null: no longer stored). */
  records: ReadonlyMap<string, NodeRecord | null>;
  presence: (node: NodeRecord) => PresenceState;
  now: number;
  /** The approved routes each node serves (NodeInfo.subnets); default none. */
  subnets?: (nodeId: string) => readonly string[];
}

export interface MeshUpdate {
  /** Deltas for nodes live before and after, by node id. */
  changes: Map<string, MapChange>;
  /** Nodes now live that were not: they get a full map when they connect. */
  joined: string[];
  /** Nodes that left the mesh (revoked, expired, removed). */
  left: string[];
}

/** A changed node before and after, as the delta computation reads it. */
interface Moved {
  id: string;
  node: MeshNode | undefined;
  /** Before: in the mesh, its class (-1 cut off), entry, filter, self, extensions. */
  wasLive: boolean;
  oldCls: number;
  oldEntry: PeerNode | undefined;
  oldFilter: FilterRule[] | null;
  oldSelf: SelfNode | undefined;
  oldExtensions: Readonly<Record<string, unknown>> | undefined;
  isLive: boolean;
  newCls: number;
  entryChanged: boolean;
}

/** Accumulates one node's peer changes; the last word on a peer wins. */
class PeerChanges {
  readonly upserted = new Map<string, PeerNode>();
  readonly removed = new Set<string>();
  upsert(p: PeerNode): void {
    this.removed.delete(p.id);
    this.upserted.set(p.id, p);
  }
  remove(id: string): void {
    this.upserted.delete(id);
    this.removed.add(id);
  }
}

const byId = (a: PeerNode, b: PeerNode) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

const NO_PEERS = Object.freeze([]) as unknown as PeerNode[];
const NO_IDS = Object.freeze([]) as unknown as string[];
const NO_ON_DEMAND: readonly OnDemandPeer[] = Object.freeze([]);
/**
 * One frozen [entry] per peer entry: a change to one node upserts it in thousands of maps, and
 * those deltas then share the list and its JSON text (map-response-json.ts), serialised once.
 */
const singles = new WeakMap<PeerNode, PeerNode[]>();

function upsertedList(p: PeerChanges | undefined): PeerNode[] {
  if (!p || p.upserted.size === 0) return NO_PEERS;
  if (p.upserted.size === 1) {
    const entry = p.upserted.values().next().value!;
    let list = singles.get(entry);
    if (!list) singles.set(entry, (list = Object.freeze([entry]) as unknown as PeerNode[]));
    return list;
  }
  return [...p.upserted.values()].sort(byId);
}
const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * applyNodeChanges updates the mesh in place for the changed nodes and returns every resulting map
 * change; null when the change needs a full build instead (the decider's version moved, or it gave
 * no decision where the mesh has one). Everything that can fail (plugin hooks, checks of the
 * decision) runs before the mesh is touched.
 */
export async function applyNodeChanges(mesh: Mesh, builder: MapBuilder, input: NodeChangesInput): Promise<MeshUpdate | null> {
  const index = mesh.index;
  // 1. New state of each changed node, nothing written yet.
  const ids = [...input.records.keys()].sort(byString);
  const fresh = new Map<string, { record: NodeRecord; info: NodeInfo }>();
  for (const id of ids) {
    const record = input.records.get(id);
    if (!record || !isLiveNode(record, input.now)) continue;
    fresh.set(id, { record, info: keep(mesh.nodes.get(id)?.info, nodeInfoOf(record, mesh.userGroups, input.subnets?.(id)), sameInfo) });
  }
  const toDecide: NodeInfo[] = [];
  for (const [id, f] of fresh) {
    const prev = mesh.nodes.get(id);
    if (f.info.approved && !(prev && prev.info === f.info && prev.grants !== null)) toDecide.push(f.info);
  }
  let decision = null;
  if (toDecide.length > 0) {
    if (builder.hasDecider()) {
      decision = await builder.decideNodes(toDecide);
      // Another policy (or none) decides now: the whole mesh is decided again.
      if (decision === null ? index.decided : !index.decided || decision.version !== index.version) return null;
    } else if (index.decided) {
      return null;
    }
  }
  const decided = new Set(toDecide);
  const grants = new Map<string, NodeGrants | null>();
  for (const [id, f] of fresh) {
    const prev = mesh.nodes.get(id);
    grants.set(id, prev && !decided.has(f.info) && prev.info === f.info ? prev.grants : index.grantsFor(decision, id, f.info.approved));
  }
  // A relay that comes, goes, moves port, address or class changes which relays serve every node: a full build.
  for (const id of ids) {
    const node = mesh.nodes.get(id);
    const f = fresh.get(id);
    const wasRelay = node?.record.relay ? node.record.relay.port : null;
    const isRelay = f?.record.relay ? f.record.relay.port : null;
    if (wasRelay === null && isRelay === null) continue;
    if (!node || !f || wasRelay !== isRelay) return null;
    const ng = grants.get(id)!;
    const cls = ng ? index.classOf(ng, index.topology.roleOf(f.info)) : -1;
    const ips = ownIpsOf(f.record);
    if (cls !== node.cls || ips[0] !== node.ownIps[0] || ips[1] !== node.ownIps[1]) return null;
  }
  const relays = relayNodesOf(mesh.nodes.values());
  const infos = [...fresh.values()].map((f) => f.info);
  const exts = await builder.extensionsFor(infos);

  // Each class's on-demand offer before the change (hubs that forward end to end), to diff after it.
  const onDemandBefore = index.topology.endToEnd ? new Map<number, readonly OnDemandPeer[]>() : null;
  if (onDemandBefore) for (const k of index.classes) if (k.members.size > 0) onDemandBefore.set(k.id, mesh.onDemandOf(k.id));

  // 2. Write the new state into the mesh.
  mesh.updating = true;
  const moved: Moved[] = [];
  const dirtyGrants = new Set<number>();
  let e = 0;
  for (const id of ids) {
    const node = mesh.nodes.get(id);
    const f = fresh.get(id);
    const m: Moved = {
      id,
      node,
      wasLive: node !== undefined,
      oldCls: node ? node.cls : -1,
      oldEntry: node?.entry,
      oldFilter: node ? node.packetFilter : null,
      oldSelf: node?.self,
      oldExtensions: node?.extensions,
      isLive: f !== undefined,
      newCls: -1,
      entryChanged: false,
    };
    const before = node?.grants ? { grants: node.grants.src, ips: node.ownIps } : null;
    if (!f) {
      if (node) {
        mesh.remove(node);
        for (const g of index.moveSources(before, null)) dirtyGrants.add(g);
      }
      moved.push(m);
      continue;
    }
    const ng = grants.get(id)!;
    const role = index.topology.roleOf(f.info);
    const cls = ng ? index.classOf(ng, role) : -1;
    const entry = keep(node?.entry, peerEntry(f.record, input.presence(f.record), Topology.isHub(role), relayedByOf(index, { id, cls }, relays)), samePeer);
    const extensions = extensionsOf(exts?.[e++], node?.extensions);
    const ips = ownIpsOf(f.record);
    const ownIps = node && node.ownIps[0] === ips[0] && node.ownIps[1] === ips[1] ? node.ownIps : ips;
    const after = ng ? { grants: ng.src, ips: ownIps } : null;
    if (node) {
      node.record = f.record;
      node.info = f.info;
      // A relay's pairs are planned below, once every class has its members.
      node.self = selfOf(entry, f.record, node, f.record.relay ? node.self.relayPairs : undefined);
      node.entry = entry;
      node.grants = ng;
      node.role = role;
      node.ownIps = ownIps;
      node.extensions = extensions;
      mesh.setClass(node, cls);
    } else {
      const created: MeshNode = {
        id,
        record: f.record,
        info: f.info,
        entry,
        self: selfOf(entry, f.record, undefined),
        cls,
        role,
        grants: ng,
        ownIps,
        packetFilter: null,
        routes: EMPTY_ROUTES,
        extensions,
      };
      mesh.insert(created);
      m.node = created;
    }
    for (const g of index.moveSources(before, after)) dirtyGrants.add(g);
    m.newCls = cls;
    m.entryChanged = m.oldEntry !== undefined && m.oldEntry !== entry;
    moved.push(m);
  }
  mesh.changed();
  // Relays re-plan their pairs when a node came, went or changed class (or the relay itself changed).
  const relaySelfChanged = new Set<string>();
  const classesMoved = moved.some((m) => m.oldCls !== m.newCls || m.wasLive !== m.isLive);
  for (const r of relays) {
    const node = mesh.nodes.get(r.id);
    if (!node || !(classesMoved || moved.some((m) => m.id === r.id))) continue;
    const before = node.self;
    node.self = selfOf(node.entry, node.record, { entry: node.entry, self: node.self }, relayPairsFor(mesh, node, relays));
    if (node.self !== before && !moved.some((m) => m.id === r.id)) relaySelfChanged.add(r.id);
  }

  // 3. Deltas.
  const inChange = new Map(moved.map((m) => [m.id, m]));
  const peers = new Map<string, PeerChanges>();
  const peersOf = (id: string) => {
    let p = peers.get(id);
    if (!p) peers.set(id, (p = new PeerChanges()));
    return p;
  };
  const classes = index.classes;
  // (a) Nodes that did not change learn about the ones that did: per class, one test each.
  for (const m of moved) {
    const entry = m.node?.entry;
    for (const k of classes) {
      if (k.members.size === 0) continue;
      const saw = m.wasLive && index.sees(k.id, m.oldCls);
      const sees = m.isLive && index.sees(k.id, m.newCls);
      if (!saw && !sees) continue;
      if (saw && sees && !m.entryChanged) continue;
      for (const a of k.members) {
        if (inChange.has(a)) continue;
        if (sees) peersOf(a).upsert(entry!);
        else peersOf(a).remove(m.id);
      }
    }
  }
  // (b) Each changed node that stays learns what it gained and lost: classes whose visibility
  // flipped, and the other changed nodes.
  for (const m of moved) {
    if (!m.wasLive || !m.isLive) continue;
    const mine = peersOf(m.id);
    if (m.oldCls !== m.newCls) {
      for (const k of classes) {
        if (k.members.size === 0) continue;
        const saw = index.sees(m.oldCls, k.id);
        const sees = index.sees(m.newCls, k.id);
        if (saw === sees) continue;
        for (const y of k.members) {
          if (inChange.has(y)) continue;
          if (sees) mine.upsert(mesh.nodes.get(y)!.entry);
          else mine.remove(y);
        }
      }
    }
    for (const o of moved) {
      if (o === m) continue;
      const saw = o.wasLive && index.sees(m.oldCls, o.oldCls);
      const sees = o.isLive && index.sees(m.newCls, o.newCls);
      if (sees && (!saw || o.entryChanged)) mine.upsert(o.node!.entry);
      else if (saw && !sees) mine.remove(o.id);
    }
  }
  // (c) Packet filters: the changed nodes, and every destination of a grant whose srcIps moved.
  const filtersToCheck = new Set<MeshNode>();
  for (const m of moved) if (m.isLive && m.node) filtersToCheck.add(m.node);
  if (dirtyGrants.size > 0) {
    for (const k of classes) {
      if (k.members.size === 0) continue;
      let hit = false;
      for (const g of dirtyGrants) if (index.isDestination(k.id, g)) hit = true;
      if (!hit) continue;
      for (const id of k.members) filtersToCheck.add(mesh.nodes.get(id)!);
    }
  }
  const filterChanged = new Map<string, { was: FilterRule[] | null; next: FilterRule[] | null }>();
  for (const n of filtersToCheck) {
    const next = index.filterFor(n);
    const m = inChange.get(n.id);
    const was = m ? (m.wasLive ? m.oldFilter : next) : n.packetFilter;
    n.packetFilter = next;
    if (!sameFilter(was, next)) filterChanged.set(n.id, { was, next });
  }

  // 4. One change per affected node.
  const changes = new Map<string, MapChange>();
  // Alike removals share one frozen list too (a revoke removes one id from thousands of maps).
  const removedLists = new Map<string, string[]>();
  const removedList = (p: PeerChanges | undefined): string[] => {
    if (!p || p.removed.size === 0) return NO_IDS;
    if (p.removed.size > 1) return [...p.removed].sort(byString);
    const id = p.removed.values().next().value!;
    let list = removedLists.get(id);
    if (!list) removedLists.set(id, (list = Object.freeze([id]) as unknown as string[]));
    return list;
  };
  const touched = new Set<string>([...peers.keys(), ...filterChanged.keys(), ...relaySelfChanged]);
  for (const m of moved) if (m.wasLive && m.isLive) touched.add(m.id);
  for (const id of touched) {
    const node = mesh.nodes.get(id);
    const m = inChange.get(id);
    if (!node || (m && !m.wasLive)) continue;
    const p = peers.get(id);
    const change: MapChange = {
      peersUpserted: upsertedList(p),
      peersRemoved: removedList(p),
    };
    if (m) {
      ownChanges(change, { self: m.oldSelf!, packetFilter: m.oldFilter, extensions: m.oldExtensions! }, node);
    } else {
      const f = filterChanged.get(id);
      if (f) setFilter(change, f.was, f.next);
      if (relaySelfChanged.has(id)) change.self = node.self;
    }
    if (!isEmptyChange(change)) changes.set(id, change);
  }
  // (d) On-demand offers: per (old class, new class), the diff of the two classes' lists, shared by their members.
  if (onDemandBefore) {
    const pairs = new Map<string, OnDemandChange>();
    for (const node of mesh.order) {
      const m = inChange.get(node.id);
      if (m && !m.wasLive) continue;
      const oldCls = m ? m.oldCls : node.cls;
      const key = `${oldCls},${node.cls}`;
      let cd = pairs.get(key);
      if (!cd) pairs.set(key, (cd = diffOnDemand(onDemandBefore.get(oldCls) ?? NO_ON_DEMAND, mesh.onDemandOf(node.cls))));
      if (cd.upserted.length === 0 && cd.removed.length === 0) continue;
      const change = changes.get(node.id) ?? { peersUpserted: NO_PEERS, peersRemoved: NO_IDS };
      setOnDemand(change, node.id, NO_ON_DEMAND, NO_ON_DEMAND, cd);
      if (!isEmptyChange(change)) changes.set(node.id, change);
    }
  }
  mesh.updating = false;
  return {
    changes,
    joined: moved.filter((m) => !m.wasLive && m.isLive).map((m) => m.id),
    left: moved.filter((m) => m.wasLive && !m.isLive).map((m) => m.id),
  };
}
