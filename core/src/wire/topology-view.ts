/** The topology as admins see it: `trellis topology`, `trellis nodes` and the console. */
import type { TopologyConfig } from '../api/routes';

/** One node's place in the topology. */
export interface NodeTopologyView {
  /** full (full mesh), hub or spoke. */
  role: 'full' | 'hub' | 'spoke';
  /** WireGuard peers its map configures. */
  peers: number;
  /** The hub it reaches non-direct nodes through; null when it has none (a hub, a full mesh, or no hub live). */
  via: string | null;
}

/** One peer of a node as `trellis topology --node` shows it. */
export interface PairPathView {
  peer: string;
  peerId: string;
  /** direct: a WireGuard peer; hub: through the hub `via` (no tunnel of its own); none: access or the topology do not allow the pair. */
  path: 'direct' | 'hub';
  via: string | null;
}

/** GET ROUTES.adminTopology. */
export interface TopologyView {
  mode: TopologyConfig['mode'];
  config: TopologyConfig;
  /** config: the controller's (config file or `trellis topology set`); policy: the Rego policy's, overriding it. */
  source: 'config' | 'policy';
  /** The policy version when source is policy. */
  policyVersion: string | null;
  /** The controller's own topology (what `trellis topology set` changed), whatever the policy says. */
  configured: TopologyConfig;
  describe: string;
  /** The hub spokes go through now (name), or null. */
  activeHub: string | null;
  /** relay: the hub runs a relay forwarder (`trellis up --relay`), which end-to-end forwarding needs. */
  hubs: Array<{ name: string; id: string; online: boolean; relay: boolean }>;
  nodes: Array<{ name: string; id: string } & NodeTopologyView>;
  /** Present with ?node=: the nodes it can talk to and how, sorted by name. */
  paths?: PairPathView[];
}

/** PUT ROUTES.adminTopology: a TopologyConfig. */
export type TopologySetRequest = TopologyConfig;
