/**
 * Route approval and topology: what a policy plugin may decide about routes a gateway advertises
 * (approveRoute) and about which pairs of nodes get direct tunnels (decideTopology).
 */
import type { NodeInfo } from './node-info';

/** RouteApprovalRequest: a gateway advertises a route that no admin has decided on. */
export interface RouteApprovalRequest {
  /** The gateway. */
  node: NodeInfo;
  /** Canonical prefix; 0.0.0.0/0 and ::/0 for an exit node. */
  prefix: string;
  kind: 'subnet' | 'exit';
}

/** RouteApproval: whether the policy approves the route (false: it stays pending for an admin). */
export interface RouteApproval {
  approved: boolean;
  /** The policy version that decided (recorded with the approval). */
  version: string;
  /** Why, for people: the rule that approved it, or that none did. */
  reason: string;
}

export type TopologyMode = 'full' | 'hub-and-spoke' | 'partial' | 'hybrid';

/**
 * TopologyConfig: which pairs of nodes get direct WireGuard tunnels. Selectors are "tag:x",
 * "node:name", "group:g", "user:u" or "*".
 * - full: every pair the access policy allows (the default).
 * - hub-and-spoke: `hubs` are peers of every node; two spokes talk through the first hub online.
 * - partial: only the nodes `direct` lists (tags or sites) get direct tunnels, each with every other
 *   listed node; other pairs go through `hubs` when there are any (and cannot talk when there are none).
 * - hybrid: `hubs`, plus direct links between chosen sites: a `direct` entry [a, b] links every
 *   node matching a with every node matching b (a single selector links its nodes among themselves).
 * The topology never widens access: a pair the access policy does not allow stays blocked by the
 * destination's packet filter, through a hub as well.
 */
export interface TopologyConfig {
  mode: TopologyMode;
  hubs?: readonly string[];
  direct?: ReadonlyArray<string | readonly [string, string]>;
  /**
   * How hubs carry two spokes' traffic (topologies with hubs): hop-by-hop (the default) decrypts at
   * the hub and encrypts again; end-to-end keeps the pair's own WireGuard session, the hub's relay
   * forwarder passing its datagrams (each spoke adds the other on demand, docs/hub-end-to-end.md).
   * Absent: hop-by-hop.
   */
  hubForwarding?: HubForwarding;
}

export type HubForwarding = 'hop-by-hop' | 'end-to-end';

/**
 * TopologyDecision: a topology a policy chose, overriding the controller's config. With errors
 * (the policy names a topology it refuses itself), the core logs them and keeps the topology in
 * force, as it does for a config that does not parse.
 */
export interface TopologyDecision {
  config: TopologyConfig | null;
  /** The policy version it came from. */
  version: string;
  /** Why the policy's topology is refused; absent or empty when it is fine. */
  errors?: readonly string[];
}
