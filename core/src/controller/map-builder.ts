import { isDeepStrictEqual } from 'node:util';
import type { MapsBuildContext, NodeInfo } from '../api/hooks';
import type { HookRunner } from '../plugins/hook-runner';
import type { NetworkMapData, PeerNode } from '../netmap/types';
import type { NodeRecord } from '../store/store';
import type { PresenceState } from './presence';

export interface MapBuildInput {
  /** Every stored node; the builder keeps only live ones (not revoked, not expired). */
  nodes: readonly NodeRecord[];
  presence: (node: NodeRecord) => PresenceState;
  overlay: { ipv4Cidr: string; ipv6Prefix: string };
  epoch: string;
  now: number;
  /** Peer entries of the previous build; an unchanged peer keeps its object so diffs compare by reference. */
  previousPeers?: ReadonlyMap<string, PeerNode>;
  /** user name -> groups, for policy plugins (NodeInfo.groups). */
  userGroups?: Readonly<Record<string, readonly string[]>>;
  /**
   * Make each map's peers an accessor that builds the array on first read (see MapBuilder.build):
   * a transformNetworkMaps plugin that replaces every peer list then never pays for the full mesh.
   */
  lazyPeers?: boolean;
}

/**
 * The context MapBuilder gives transformNetworkMaps: besides MapsBuildContext, the shared peer
 * entries of every live node by id, in id order. A map whose peers property is still an accessor
 * has the untouched full mesh: entries of approved nodes other than itself (none if unapproved).
 */
export interface SharedPeersContext {
  peerEntries: ReadonlyMap<string, PeerNode>;
  /**
   * peersWithout gives list without the entry of nodeId, in the same order, frozen. When list is a
   * frozen list MapBuilder has seen sorted by id, the copy is known sorted too and is not checked
   * again: a plugin that gives many nodes one shared list less themselves pays a copy per node,
   * not a copy and a sort check.
   */
  peersWithout(list: readonly PeerNode[], nodeId: string): PeerNode[];
  /**
   * peersAt gives the entries at the given positions of peerEntries (strictly increasing), as a
   * frozen list known to be sorted: checking positions is far cheaper than comparing ids.
   */
  peersAt(positions: ArrayLike<number>): PeerNode[];
}

export interface MapBuildOutput {
  /** One map per live node, version 0: the MapStreamer numbers versions. */
  maps: Map<string, NetworkMapData>;
  /** The shared, frozen peer entries, by node id. */
  peers: Map<string, PeerNode>;
}

/** isApproved: a node enrolled while approval was required waits, with no peers, until an admin approves it. */
export function isApproved(node: NodeRecord): boolean {
  return node.approved !== false;
}

/** nodeInfoOf is what policy plugins learn about a live node. */
export function nodeInfoOf(node: NodeRecord, userGroups: Readonly<Record<string, readonly string[]>> = {}): NodeInfo {
  return {
    id: node.id,
    name: node.name,
    user: node.user,
    groups: node.user ? [...(userGroups[node.user] ?? [])] : [],
    tags: [...node.tags],
    addresses: { ipv4: node.ipv4, ipv6: node.ipv6 },
    posture: node.posture,
    approved: isApproved(node),
  };
}

/** isLiveNode: a node takes part in the mesh unless it is revoked or its key has expired. */
export function isLiveNode(node: NodeRecord, now: number): boolean {
  return !node.revoked && (node.expiresAt === null || node.expiresAt > now);
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function peerEntry(node: NodeRecord, presence: PresenceState): PeerNode {
  return {
    id: node.id,
    name: node.name,
    wgKey: node.wgKey,
    addresses: { ipv4: node.ipv4, ipv6: node.ipv6 },
    endpoints: [...node.endpoints],
    allowedIps: [`${node.ipv4}/32`, `${node.ipv6}/128`],
    tags: [...node.tags],
    user: node.user,
    online: presence.online,
    lastSeen: presence.lastSeen,
  };
}

/** freezePeer protects the entries shared by every map from a plugin that edits in place. */
function freezePeer(p: PeerNode): PeerNode {
  Object.freeze(p.addresses);
  Object.freeze(p.endpoints);
  Object.freeze(p.allowedIps);
  Object.freeze(p.tags);
  return Object.freeze(p);
}

/**
 * buildNetworkMaps is the pure step from stored nodes to one NetworkMap per live node. Peer entries
 * are built once and shared by all maps (N entries, not N²), each map gets its own peers array.
 */
export function buildNetworkMaps(input: MapBuildInput): MapBuildOutput {
  const live = input.nodes.filter((n) => isLiveNode(n, input.now)).sort(byId);
  const peers = new Map<string, PeerNode>();
  const entries: PeerNode[] = live.map((node) => {
    const fresh = peerEntry(node, input.presence(node));
    const prev = input.previousPeers?.get(node.id);
    const entry = prev && isDeepStrictEqual(prev, fresh) ? prev : freezePeer(fresh);
    peers.set(node.id, entry);
    return entry;
  });
  const maps = new Map<string, NetworkMapData>();
  // Nodes waiting for approval see no one and no one sees them.
  const visible = live.map(isApproved);
  const allApproved = visible.every(Boolean);
  const peerListOf = (i: number) => (!visible[i] ? [] : allApproved ? entries.slice(0, i).concat(entries.slice(i + 1)) : entries.filter((_, j) => j !== i && visible[j]));
  live.forEach((node, i) => {
    const map: NetworkMapData = {
      version: 0,
      epoch: input.epoch,
      self: { ...entries[i], expiresAt: node.expiresAt },
      peers: input.lazyPeers ? [] : peerListOf(i),
      packetFilter: null,
      routes: [],
      extensions: {},
      overlay: { ipv4Cidr: input.overlay.ipv4Cidr, ipv6Prefix: input.overlay.ipv6Prefix },
    };
    if (input.lazyPeers) {
      // The getter settles on whichever object it is read through, so a plugin may copy the map's
      // property descriptors (to set an extension) and the copy still builds its peers on first read.
      Object.defineProperty(map, 'peers', {
        configurable: true,
        enumerable: true,
        get(this: NetworkMapData) {
          const value = peerListOf(i);
          Object.defineProperty(this, 'peers', { value, writable: true, configurable: true, enumerable: true });
          return value;
        },
        set(this: NetworkMapData, value: PeerNode[]) {
          Object.defineProperty(this, 'peers', { value, writable: true, configurable: true, enumerable: true });
        },
      });
    }
    maps.set(node.id, map);
  });
  return { maps, peers };
}

function isSortedById(peers: readonly PeerNode[]): boolean {
  for (let i = 1; i < peers.length; i++) if (!(peers[i - 1].id < peers[i].id)) return false;
  return true;
}

/**
 * SortedPeerLists remembers the frozen peer lists known to be sorted by id (strictly, so without
 * duplicates). A frozen array cannot change, so a list shared by many maps is checked once, and
 * lists derived from a known one (withoutPeer) are never checked.
 */
class SortedPeerLists {
  private readonly known = new WeakSet<readonly PeerNode[]>();

  isSorted(peers: readonly PeerNode[]): boolean {
    if (this.known.has(peers)) return true;
    if (!isSortedById(peers)) return false;
    if (Object.isFrozen(peers)) this.known.add(peers);
    return true;
  }

  /** sortPeers gives map itself when its peers are sorted, else a copy with sorted peers. */
  sortPeers(map: NetworkMapData): NetworkMapData {
    return this.isSorted(map.peers) ? map : { ...map, peers: [...map.peers].sort(byId) };
  }

  /** at picks entries (in id order) by strictly increasing positions; null if they are not. */
  at(entries: readonly PeerNode[], positions: ArrayLike<number>): PeerNode[] | null {
    const out: PeerNode[] = new Array<PeerNode>(positions.length);
    let last = -1;
    for (let i = 0; i < positions.length; i++) {
      const p = positions[i];
      if (!(Number.isInteger(p) && p > last && p < entries.length)) return null;
      out[i] = entries[p];
      last = p;
    }
    Object.freeze(out);
    this.known.add(out);
    return out;
  }

  withoutPeer(list: readonly PeerNode[], nodeId: string): PeerNode[] {
    if (!this.isSorted(list)) return Object.freeze(list.filter((p) => p.id !== nodeId)) as PeerNode[];
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid].id < nodeId) lo = mid + 1;
      else hi = mid;
    }
    const found = lo < list.length && list[lo].id === nodeId;
    if (!found && Object.isFrozen(list)) return list as PeerNode[];
    // A plain loop: slice, concat and toSpliced take a slow path on frozen arrays (about 5x here).
    const out: PeerNode[] = new Array<PeerNode>(found ? list.length - 1 : list.length);
    for (let i = 0, j = 0; i < list.length; i++) if (!found || i !== lo) out[j++] = list[i];
    Object.freeze(out);
    this.known.add(out);
    return out;
  }
}

/**
 * MapBuilder runs buildNetworkMaps, remembers the shared peer entries for the next build, and lets
 * plugins adjust each node's map through the sequential transformNetworkMap hook, then every map at
 * once through transformNetworkMaps (a policy evaluated once for the whole mesh).
 */
export class MapBuilder {
  private previousPeers: ReadonlyMap<string, PeerNode> = new Map();
  private readonly sortedLists = new SortedPeerLists();

  constructor(private readonly hooks: HookRunner) {}

  async build(input: Omit<MapBuildInput, 'previousPeers'>): Promise<Map<string, NetworkMapData>> {
    // Only transformNetworkMaps (no per-node transform) reads the maps: peers are built on demand.
    const lazyPeers = this.hooks.has('transformNetworkMaps') && !this.hooks.has('transformNetworkMap');
    const out = buildNetworkMaps({ ...input, previousPeers: this.previousPeers, lazyPeers });
    this.previousPeers = out.peers;
    if (this.hooks.has('transformNetworkMap')) {
      for (const [nodeId, map] of out.maps) {
        const next = await this.hooks.runSequential('transformNetworkMap', map, { nodeId });
        // Peers stay sorted by id whatever a plugin did: agents and diffs rely on it.
        out.maps.set(nodeId, this.sortedLists.sortPeers(next));
      }
    }
    if (this.hooks.has('transformNetworkMaps')) {
      const byNode = new Map(input.nodes.map((n) => [n.id, n]));
      const ids = [...out.maps.keys()];
      const nodes = ids.map((id) => nodeInfoOf(byNode.get(id)!, input.userGroups));
      const lists = this.sortedLists;
      let inOrder: PeerNode[] | null = null;
      const ctx: MapsBuildContext & SharedPeersContext = {
        nodes,
        peerEntries: out.peers,
        peersWithout: (list, nodeId) => lists.withoutPeer(list, nodeId),
        peersAt: (positions) => {
          inOrder ??= [...out.peers.values()];
          const picked = lists.at(inOrder, positions);
          if (!picked) throw new RangeError('peersAt: positions must be strictly increasing integers within peerEntries');
          return picked;
        },
      };
      const next = await this.hooks.runSequential('transformNetworkMaps', ids.map((id) => out.maps.get(id)!), ctx);
      // One map per input map, for the same node: anything else is ignored (the per-node maps stay).
      if (next.length === ids.length && next.every((m, i) => m?.self?.id === ids[i])) {
        next.forEach((m, i) => out.maps.set(ids[i], lists.sortPeers(m)));
      }
    }
    return out.maps;
  }
}
