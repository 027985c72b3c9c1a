/**
 * NetmapsView: each node's share of trellis/access/netmaps as transformMaps consumes it, whether
 * the policy was evaluated over every node (directView) or over one class representative at a
 * time (netmap-classes.ts).
 */
import type { FilterRule, PeerNode } from '@trellis/core/api';

/** The per-node value of trellis/access/netmaps. */
export interface RegoNetmap {
  node: string;
  quarantined: boolean;
  peers: string[];
  packetFilter: FilterRule[];
}

/** NodeNetmap is one node's verdict: whom it may see and what it accepts. */
export interface NodeNetmap {
  quarantined: boolean;
  /** filterPeers keeps, in order, the peer entries this node may see (never itself). */
  filterPeers(peers: readonly PeerNode[]): PeerNode[];
  /**
   * peersAmong is filterPeers over every live node's shared entry (in id order) without the node
   * itself; members of a class share one frozen array when they do not see each other, and get
   * that array less themselves (through shared.peersWithout, when given) when they do.
   */
  peersAmong?(entries: ReadonlyMap<string, PeerNode>, shared?: SharedPeerLists): PeerNode[];
  /** Sorted as Rego sorts it; arrays may be shared with other nodes (maps are read-only). */
  packetFilter: FilterRule[];
}

/** MapBuilder's helpers for peer lists shared between maps (core's SharedPeersContext). */
export interface SharedPeerLists {
  /** A sorted list without one node's entry. */
  peersWithout?: (list: readonly PeerNode[], nodeId: string) => PeerNode[];
  /** The entries at strictly increasing positions of peerEntries, as a list known sorted. */
  peersAt?: (positions: ArrayLike<number>) => PeerNode[];
}

export interface NetmapsView {
  /** get is undefined for a node the policy gave no netmap (unapproved, unknown, bad id). */
  get(nodeId: string): NodeNetmap | undefined;
}

/** emptyView: the state before any successful evaluation (every node is cut off). */
export const emptyView: NetmapsView = { get: () => undefined };

/** directView reads a netmaps value computed over all nodes (the policy's own result, as is). */
export function directView(result: Record<string, RegoNetmap>): NetmapsView {
  return {
    get(nodeId) {
      const r = Object.prototype.hasOwnProperty.call(result, nodeId) ? result[nodeId] : undefined;
      if (!r) return undefined;
      const allowed = new Set(r.peers);
      return {
        quarantined: r.quarantined === true,
        filterPeers: (peers) => peers.filter((p) => allowed.has(p.id)),
        packetFilter: (r.packetFilter ?? []).map((f) => ({
          srcIps: [...f.srcIps],
          ...(f.dstIps ? { dstIps: [...f.dstIps] } : {}),
          proto: f.proto,
          dstPorts: f.dstPorts.map(([a, b]) => [a, b] as [number, number]),
        })),
      };
    },
  };
}
