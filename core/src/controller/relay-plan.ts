/**
 * The relay decision of the map pipeline: which relays may serve which pairs. A relay R serves a
 * node X when the access policy lets them see each other and R's own packet filter (the policy's
 * grants with R as a destination) accepts X on R's relay port, udp; R serves the pair (X, Y) when
 * it serves both and X and Y may reach each other (they are peers). Nothing here decides access:
 * it reads the AccessIndex the decision built.
 *
 * The decision travels in the maps two ways: every peer entry lists the relays that serve that
 * node (PeerNode.relayedBy), so a node offers a relayed candidate for a peer only through a relay
 * that serves both; and a relay's own self node lists the pairs it serves (SelfNode.relayPairs),
 * by groups of alike nodes, which its forwarder's allow-list follows.
 *
 * A hub whose topology forwards end to end also serves the spoke pairs that talk through it
 * (on-demand-plan.ts): they are not peers, but add each other on demand with the hub's relay as
 * the endpoint, so the hub passes their ciphertext instead of decrypting it.
 */
import type { RelayPairs } from '../netmap/types';
import type { AccessIndex, IndexedNode } from './access-index';
import { offersOnDemand } from './on-demand-plan';
import { Topology } from './topology';

/** What the plan needs of a relay node. */
export interface RelayNode extends IndexedNode {
  cls: number;
  port: number;
}

/** What the plan needs of any node. */
export interface PlannedNode {
  id: string;
  cls: number;
}

const EMPTY: readonly string[] = Object.freeze([]);

/** relayedByOf: the ids of the relays (sorted by id) that may serve a node of class cls, never the node itself. */
export function relayedByOf(index: AccessIndex, node: PlannedNode, relays: readonly RelayNode[]): readonly string[] {
  if (node.cls < 0 || relays.length === 0) return EMPTY;
  let out: string[] | null = null;
  for (const r of relays) {
    if (r.id === node.id || r.cls < 0) continue;
    if (!index.sees(r.cls, node.cls) || !index.mayRelay(node.cls, r, r.port)) continue;
    (out ??= []).push(r.id);
  }
  return out ? Object.freeze(out) : EMPTY;
}

/**
 * relayPairsOf: the pairs relay r may serve, as groups (the members of each class it serves,
 * without r, ids sorted; groups by first id) and the links between groups whose members are peers.
 * members(k) lists a class's live members.
 */
export function relayPairsOf(index: AccessIndex, r: RelayNode, members: (cls: number) => Iterable<string>): RelayPairs {
  const served: Array<{ ids: string[]; cls: number }> = [];
  if (r.cls >= 0) {
    for (const k of index.classes) {
      if (k.members.size === 0 || !index.sees(r.cls, k.id) || !index.mayRelay(k.id, r, r.port)) continue;
      const ids = [...members(k.id)].filter((id) => id !== r.id).sort();
      if (ids.length > 0) served.push({ ids, cls: k.id });
    }
  }
  // Groups are disjoint: ordered by their first id, the plan is the same whatever order classes were made in.
  served.sort((a, b) => (a.ids[0]! < b.ids[0]! ? -1 : 1));
  const links: Array<[number, number]> = [];
  const hub = r.cls >= 0 && index.topology.endToEnd && Topology.isHub(index.classes[r.cls]!.role);
  for (let i = 0; i < served.length; i++) {
    for (let j = i; j < served.length; j++) {
      if (i === j && served[i]!.ids.length < 2) continue;
      const a = served[i]!.cls;
      const b = served[j]!.cls;
      if (index.sees(a, b) || (hub && offersOnDemand(index, a, b))) links.push([i, j]);
    }
  }
  return { groups: served.map((g) => g.ids), links };
}

/** sameRelayPairs compares two plans (absent: no plan). */
export function sameRelayPairs(a: RelayPairs | undefined, b: RelayPairs | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.groups.length !== b.groups.length || a.links.length !== b.links.length) return false;
  for (let i = 0; i < a.links.length; i++) if (a.links[i]![0] !== b.links[i]![0] || a.links[i]![1] !== b.links[i]![1]) return false;
  for (let i = 0; i < a.groups.length; i++) {
    const x = a.groups[i]!;
    const y = b.groups[i]!;
    if (x.length !== y.length || x.some((id, n) => id !== y[n])) return false;
  }
  return true;
}

/** freezePairs freezes a plan all the way down (maps are values; frozen parts share their JSON). */
export function freezePairs(p: RelayPairs): RelayPairs {
  for (const g of p.groups) Object.freeze(g);
  for (const l of p.links) Object.freeze(l);
  Object.freeze(p.groups);
  Object.freeze(p.links);
  return Object.freeze(p);
}
