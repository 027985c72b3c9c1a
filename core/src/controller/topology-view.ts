/**
 * Topology views: what the topology decided for each node of a built Mesh (its role, the
 * WireGuard peers its map configures, the hub it goes through) and, for one node, the path to
 * every node it may talk to (direct, or via which hub). Read from the mesh; nothing is decided here
 * that the build did not decide (Topology.path is the same pair decision the peer lists follow).
 */
import type { TopologyConfig } from '../api/routes';
import type { NodeTopologyView, PairPathView, TopologyView } from '../wire';
import type { Mesh, MeshNode } from './map-builder';
import { activeHubOf } from './route-plan';
import { Topology } from './topology';

/** peerCounts: per class, how many WireGuard peers each member configures (its class list less itself). */
export function peerCounts(mesh: Mesh): Map<number, number> {
  const out = new Map<number, number>();
  const classes = mesh.index.classes;
  for (const k of classes) {
    if (k.members.size === 0) continue;
    const row = mesh.index.seesRow(k.id);
    let n = 0;
    for (const c of classes) if (row[c.id] === 1) n += c.members.size;
    out.set(k.id, row[k.id] === 1 ? n - 1 : n);
  }
  return out;
}

/** nodeTopology is one node's role, peers and hub. */
export function nodeTopology(node: MeshNode, counts: ReadonlyMap<number, number>, hub: MeshNode | null): NodeTopologyView {
  const role = Topology.roleName(node.role);
  const via = role === 'spoke' && hub && node.cls >= 0 ? hub.record.name : null;
  return { role, peers: node.cls < 0 ? 0 : counts.get(node.cls) ?? 0, via };
}

/** pairPaths: every node `from` may talk to, and how, sorted by name (Topology.path per pair). */
export function pairPaths(mesh: Mesh, from: MeshNode): PairPathView[] {
  if (from.cls < 0) return [];
  const t = mesh.topology;
  const hub = activeHubOf(mesh);
  const out: PairPathView[] = [];
  for (const m of mesh.order) {
    if (m.id === from.id || m.cls < 0) continue;
    const p = t.path(from.role, m.role, mesh.index.reaches(from.cls, m.cls), hub && hub.id !== from.id && hub.id !== m.id ? hub.id : null);
    if (p.kind === 'none') continue;
    out.push({ peer: m.record.name, peerId: m.id, path: p.kind, via: p.kind === 'hub' ? mesh.nodes.get(p.hub)!.record.name : null });
  }
  return out.sort((a, b) => a.peer.localeCompare(b.peer, 'en', { numeric: true }));
}

/** topologyView is `trellis topology`: the topology in force, its hubs and every node's place. */
export function topologyView(mesh: Mesh, configured: TopologyConfig, node: MeshNode | null): TopologyView {
  const t = mesh.topology;
  const counts = peerCounts(mesh);
  const hub = activeHubOf(mesh);
  const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name, 'en', { numeric: true });
  const view: TopologyView = {
    mode: t.mode,
    config: t.config,
    source: t.source,
    policyVersion: t.version,
    configured,
    describe: t.describe(),
    activeHub: hub?.record.name ?? null,
    hubs: mesh.order.filter((n) => n.cls >= 0 && Topology.isHub(n.role)).map((n) => ({ name: n.record.name, id: n.id, online: n.entry.online, relay: n.record.relay !== null && n.record.relay !== undefined })).sort(byName),
    nodes: mesh.order.map((n) => ({ name: n.record.name, id: n.id, ...nodeTopology(n, counts, hub) })).sort(byName),
  };
  if (node) view.paths = pairPaths(mesh, node);
  return view;
}

/** TopologyFigures: what the topology metrics observe. */
export interface TopologyFigures {
  mode: string;
  source: string;
  /** Per role: nodes, and the mean and largest number of WireGuard peers configured. */
  roles: Array<{ role: string; nodes: number; meanPeers: number; maxPeers: number }>;
  /** Spokes that have no live hub to reach non-direct nodes through (topologies with hubs). */
  spokesWithoutHub: number;
}

/** topologyFigures summarises a mesh for the metrics. */
export function topologyFigures(mesh: Mesh): TopologyFigures {
  const counts = peerCounts(mesh);
  const hub = activeHubOf(mesh);
  const roles = new Map<string, { nodes: number; sum: number; max: number }>();
  let spokesWithoutHub = 0;
  for (const n of mesh.order) {
    if (n.cls < 0) continue;
    const v = nodeTopology(n, counts, hub);
    const r = roles.get(v.role) ?? { nodes: 0, sum: 0, max: 0 };
    r.nodes++;
    r.sum += v.peers;
    r.max = Math.max(r.max, v.peers);
    roles.set(v.role, r);
    if (v.role === 'spoke' && mesh.topology.hasHubs && (hub === null || !hub.entry.online)) spokesWithoutHub++;
  }
  return {
    mode: mesh.topology.mode,
    source: mesh.topology.source,
    roles: [...roles].map(([role, r]) => ({ role, nodes: r.nodes, meanPeers: r.nodes === 0 ? 0 : r.sum / r.nodes, maxPeers: r.max })),
    spokesWithoutHub,
  };
}
