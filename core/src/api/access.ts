/**
 * The access decision vocabulary: what a decider plugin (decideAccess) tells core about who sees
 * whom and what each node's packet filter accepts. It is a representation, not a policy: the
 * decider decides every membership; core only expands unions of products (controller/access-index.ts).
 *
 * Semantics (fixed in core):
 * - a and b (a ≠ b) are peers iff some grant has a as a source (src or srcByPrefix) and b as a
 *   destination (dst or dstAt), or the other way round. Visibility is symmetric: WireGuard needs
 *   both ends.
 * - node d's packet filter has, for each grant g where d is a destination and srcIps(g) is not
 *   empty, the entry { srcIps: srcIps(g), dstIps: d's addresses for g (sorted), proto, dstPorts },
 *   where srcIps(g) is the sorted, de-duplicated union of the addresses of g's named sources (src)
 *   and g.srcPrefixes. Entries are sorted as Rego sorts objects (compareFilters) without repeats.
 *   A node's own addresses are not taken out of srcIps.
 * - a node absent from AccessDecision.nodes is cut off: no peers, and no one sees it; filter [].
 */
import type { NodeInfo } from './node-info';

/** AccessGrant: every source sees every destination (and back); destinations accept its traffic from the sources. */
export interface AccessGrant {
  /** Rule name or a description of the path (e.g. "quarantine: ..."), for people. */
  label: string;
  proto: 'tcp' | 'udp' | 'icmp' | 'any';
  /** Port ranges [from, to]; [] means all ports. */
  dstPorts: ReadonlyArray<readonly [number, number]>;
  /** CIDR sources as written in the policy; they join srcIps as they are. */
  srcPrefixes: readonly string[];
}

/** NodeGrants: where one node stands, as positions in AccessDecision.grants. */
export interface NodeGrants {
  /** Named source: sees the destinations; its own addresses join the grant's srcIps. */
  src: readonly number[];
  /** Source because one of the grant's srcPrefixes holds its address: sees the destinations; adds no srcIps. */
  srcByPrefix: readonly number[];
  /** Destination at its own addresses (dstIps: its ipv4 and ipv6, sorted). */
  dst: readonly number[];
  /** Destination at these addresses only (a CIDR destination: an address of the node, or a routed prefix). */
  dstAt?: Readonly<Record<number, readonly string[]>>;
}

export interface AccessDecision {
  /** The same version means the same grants list (posture-opa: the policy version). */
  version: string;
  grants: readonly AccessGrant[];
  /** By node id. A node absent here is cut off. Core copies what it needs; the map may be reused by the decider. */
  nodes: ReadonlyMap<string, NodeGrants>;
}

/**
 * AccessDecisionRequest: scope 'mesh' gives every approved live node (a full build); scope 'nodes'
 * gives only the nodes that changed, and the decider returns their NodeGrants only (the others keep
 * theirs). When the version it returns differs from the one core holds, core asks again with 'mesh'.
 */
export interface AccessDecisionRequest {
  nodes: readonly NodeInfo[];
  scope: 'mesh' | 'nodes';
}
