/**
 * Route plan: which routes each node's map carries, from the RouteTable's primaries and the mesh's
 * access decision. A node gets a subnet route when its gateway is one of its WireGuard peers, some
 * grant it is a source of reaches the gateway at an address inside the prefix (the access policy
 * decides who reaches which subnet; without a decision everyone does), and it does not advertise
 * the prefix itself (a backup gateway keeps its LAN route). An exit route needs a grant reaching
 * the exit node at 0.0.0.0/0 or ::/0. Nodes alike in what they get share one frozen list, so diffs
 * compare by reference.
 *
 * Topologies with hubs: a spoke's WireGuard peers are its hubs and its direct links only, so every
 * spoke also gets two transit routes, the overlay's IPv4 and IPv6 prefixes via the active hub
 * (chooseHub). Direct peers keep their /32 and /128 (longest prefix wins in WireGuard's routing);
 * every other overlay address goes through the hub, which forwards between its own tunnels.
 *
 * Subnets behind a spoke: a client that is not the gateway's WireGuard peer but whom access lets
 * reach it (a spoke with no direct link to the gateway) gets the subnet via the active hub, naming
 * the gateway (Route.gateway); every hub gets a transit route for each subnet whose primary gateway
 * is a spoke, so the prefix joins that gateway's allowed IPs and the hub's kernel routes and the hub
 * forwards it on. The hub carries it for everyone; the gateway's packet filter still decides who
 * reaches the subnet, as it does for direct clients. An HA switch moves both to the new primary.
 */
import type { NodeGrants } from '../api/access';
import { prefixesOverlapText } from '../netmap/route-rules';
import type { Route } from '../netmap/types';
import { EMPTY_ROUTES, type Mesh, type MeshNode } from './map-builder';
import type { PrimaryRoute } from './route-table';
import { chooseHub, Topology } from './topology';

/** activeHubOf: the live hub spokes of this mesh go through, or null (no hubs, or a full mesh). */
export function activeHubOf(mesh: Mesh): MeshNode | null {
  const t = mesh.topology;
  if (t.isFull || !t.hasHubs) return null;
  const hubs = mesh.order.filter((n) => n.cls >= 0 && Topology.isHub(n.role));
  const id = chooseHub(hubs.map((h) => ({ id: h.id, rank: t.hubRank(h.info), online: h.entry.online })));
  return id === null ? null : mesh.nodes.get(id)!;
}

export function routesForMesh(mesh: Mesh, primaries: readonly PrimaryRoute[], advertisedBy: (nodeId: string) => ReadonlySet<string>): Map<string, Route[]> {
  const out = new Map<string, Route[]>();
  const hub = activeHubOf(mesh);
  if (primaries.length === 0 && hub === null) {
    for (const n of mesh.order) out.set(n.id, EMPTY_ROUTES);
    return out;
  }
  const transit = hub
    ? [
        Object.freeze({ prefix: mesh.overlay.ipv4Cidr, via: hub.id, kind: 'transit' }) as Route,
        Object.freeze({ prefix: mesh.overlay.ipv6Prefix, via: hub.id, kind: 'transit' }) as Route,
      ]
    : [];
  const entries = primaries.map((p) => Object.freeze({ prefix: p.prefix, via: p.gateway, kind: p.kind }) as Route);
  const gateways = primaries.map((p) => mesh.nodes.get(p.gateway));
  // The same subnet reached through the active hub, for clients without a tunnel to its gateway.
  const throughHub = primaries.map((p) => (hub && p.kind === 'subnet' ? (Object.freeze({ prefix: p.prefix, via: hub.id, kind: 'subnet', gateway: p.gateway, gatewayName: mesh.nodes.get(p.gateway)?.record.name ?? p.gateway }) as Route) : null));
  // What a hub forwards: the subnet to its gateway, whether or not the hub may use it itself.
  const forwarded = primaries.map((p) => (p.kind === 'subnet' ? (Object.freeze({ prefix: p.prefix, via: p.gateway, kind: 'transit' }) as Route) : null));
  const shared = new Map<string, Route[]>();
  const decided = mesh.index.decided;
  // Per primary: the grants that reach its gateway at an address inside the prefix.
  const reaching = primaries.map((p, i) => (decided ? grantsReaching(gateways[i]?.grants ?? null, p.prefix) : null));
  const routesOf = (key: string): Route[] => {
    if (key === 't') return transit;
    if (key[0] === 'h') return [throughHub[Number(key.slice(1))]!];
    if (key[0] === 'f') return [forwarded[Number(key.slice(1))]!];
    return [entries[Number(key)]!];
  };
  for (const n of mesh.order) {
    if (n.cls < 0) {
      out.set(n.id, EMPTY_ROUTES);
      continue;
    }
    const own = advertisedBy(n.id);
    // A spoke that sees the active hub reaches the rest of the overlay through it.
    const spokeOfHub = hub !== null && hub.id !== n.id && !Topology.isHub(n.role) && mesh.index.sees(n.cls, hub.cls);
    const isHub = hub !== null && Topology.isHub(n.role);
    let picked = spokeOfHub ? 't,' : '';
    for (let i = 0; i < primaries.length; i++) {
      const g = gateways[i];
      if (!g || g.id === n.id || g.cls < 0 || own.has(primaries[i]!.prefix)) continue;
      const direct = mesh.index.sees(n.cls, g.cls);
      // A hub forwards a spoke gateway's subnet for the spokes behind it.
      if (isHub && direct && forwarded[i] && !Topology.isHub(g.role)) picked += `f${i},`;
      const viaHub = !direct && spokeOfHub && throughHub[i] !== null && hub!.id !== g.id && mesh.index.reaches(n.cls, g.cls);
      if (!direct && !viaHub) continue;
      const via = reaching[i];
      if (via !== null && !holdsAny(n.grants, via!)) continue;
      picked += viaHub ? `h${i},` : `${i},`;
    }
    if (picked === '') {
      out.set(n.id, EMPTY_ROUTES);
      continue;
    }
    let list = shared.get(picked);
    if (!list) {
      list = Object.freeze(picked.split(',').filter((x) => x !== '').flatMap((i) => routesOf(i))) as Route[];
      shared.set(picked, list);
    }
    out.set(n.id, list);
  }
  return out;
}

/** grantsReaching: the grants whose destination addresses at the gateway overlap prefix. */
function grantsReaching(gw: NodeGrants | null, prefix: string): ReadonlySet<number> {
  const out = new Set<number>();
  if (!gw?.dstAt) return out;
  for (const [g, addrs] of Object.entries(gw.dstAt)) {
    if (addrs.some((a) => prefixesOverlapText(a.includes('/') ? a : a.includes(':') ? `${a}/128` : `${a}/32`, prefix))) out.add(Number(g));
  }
  return out;
}

function holdsAny(n: NodeGrants | null, grants: ReadonlySet<number>): boolean {
  if (!n || grants.size === 0) return false;
  for (const g of n.src) if (grants.has(g)) return true;
  for (const g of n.srcByPrefix) if (grants.has(g)) return true;
  return false;
}
