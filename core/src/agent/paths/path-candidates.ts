/**
 * pathCandidates lists, from a NetworkMap, every way this node can reach each peer: each direct
 * endpoint the peer advertised (its local addresses on every uplink, its reflexive address), and
 * one relayed candidate per relay that may serve the pair (the relay's address and relay port):
 * the controller names, on every node, the relays that serve it (relayedBy), and a relay serves a
 * pair when it serves both ends; its forwarder's allow-list says the same. Maps from controllers
 * before the relay policy name none: then every relay in the map is a candidate, as before. Pure.
 */
import type { CandidateKind, NetworkMap, PeerNode } from '../../netmap/types';
import { formatUdpEndpoint, parseUdpEndpoint } from '../../wg/control-frame';

/** One way to reach a peer: the endpoint WireGuard (and disco) send to. */
export interface PathCandidate {
  /** "direct:<ip:port>" or "relay:<relay node id>"; the same id means the same path on every refresh. */
  id: string;
  kind: 'direct' | 'relay';
  /** Where datagrams go: the peer's endpoint, or the relay's. */
  endpoint: string;
  /** The relay's node id and name, for relayed candidates. */
  relayId?: string;
  relayName?: string;
  /** Learned from a ping that arrived from an address the peer never advertised (peer-reflexive). */
  learned?: boolean;
  /** For a direct candidate: how the peer learned the address (local, uplink, reflexive), when its map says. */
  endpointKind?: CandidateKind;
}

/** A relay in the map: where to ping it (to register) and how to name it. */
export interface RelayTarget {
  id: string;
  name: string;
  wgKey: string;
  endpoint: string;
}

export interface PeerCandidates {
  peer: PeerNode;
  candidates: PathCandidate[];
}

/** relayEndpointOf is the relay's first advertised address with its relay port; null when it has none. */
export function relayEndpointOf(node: PeerNode): string | null {
  if (!node.relay) return null;
  for (const ep of node.endpoints) {
    const u = parseUdpEndpoint(ep);
    if (u) return formatUdpEndpoint({ ip: u.ip, port: node.relay.port });
  }
  return null;
}

/** servedBy: the ids of the relays that serve this node, or null when the map does not say (an older controller). */
function servedBy(map: NetworkMap): ReadonlySet<string> | null {
  return map.self.relayedBy === undefined ? null : new Set(map.self.relayedBy);
}

/** relaysOf lists the map's relays that serve this node (every relay when the map does not say), sorted by id. */
export function relaysOf(map: NetworkMap): RelayTarget[] {
  const out: RelayTarget[] = [];
  const serving = servedBy(map);
  for (const p of map.peers) {
    if (p.id === map.self.id) continue;
    if (serving && !serving.has(p.id)) continue;
    const endpoint = relayEndpointOf(p as PeerNode);
    if (endpoint) out.push({ id: p.id, name: p.name, wgKey: p.wgKey, endpoint });
  }
  return out;
}

export const directCandidateId = (endpoint: string) => `direct:${endpoint}`;
export const relayCandidateId = (relayId: string) => `relay:${relayId}`;

/** pathCandidates gives each peer's candidates: its direct endpoints first, then every relay that serves the pair. */
export function pathCandidates(map: NetworkMap): PeerCandidates[] {
  const relays = relaysOf(map);
  const decided = map.self.relayedBy !== undefined;
  const out: PeerCandidates[] = [];
  for (const p of map.peers) {
    if (p.id === map.self.id) continue;
    const candidates: PathCandidate[] = [];
    const seen = new Set<string>();
    const kinds = new Map((p.candidates ?? []).map((c) => [c.address, c.kind]));
    for (const ep of p.endpoints) {
      const u = parseUdpEndpoint(ep);
      if (!u) continue;
      const endpoint = formatUdpEndpoint(u);
      if (seen.has(endpoint)) continue;
      seen.add(endpoint);
      const endpointKind = kinds.get(ep) ?? kinds.get(endpoint);
      candidates.push({ id: directCandidateId(endpoint), kind: 'direct', endpoint, ...(endpointKind ? { endpointKind } : {}) });
    }
    for (const r of relays) {
      if (r.id === p.id) continue;
      if (decided && !p.relayedBy?.includes(r.id)) continue;
      candidates.push({ id: relayCandidateId(r.id), kind: 'relay', endpoint: r.endpoint, relayId: r.id, relayName: r.name });
    }
    out.push({ peer: p as PeerNode, candidates });
  }
  return out;
}
