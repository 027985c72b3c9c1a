/** Bodies of the admin routes, as the controller answers them and the CLI and the lab read them. */
import type { NodeTopologyView } from './topology-view';
import type { Facts, PostureDecision } from '../api/hooks';
import type { RelayOffer, EndpointCandidate } from '../netmap/types';

export interface CreateKeyRequest {
  tags?: string[];
  user?: string;
  reusable?: boolean;
  /** seconds; default 3600 */
  ttlSeconds?: number;
  /** seconds until enrolled nodes' keys expire; null or absent = never */
  nodeTtlSeconds?: number | null;
}

export interface AuthKeyView {
  id: string;
  tags: string[];
  user: string | null;
  reusable: boolean;
  uses: number;
  createdAt: number;
  expiresAt: number;
  revoked: boolean;
}

export interface CreateKeyResponse extends AuthKeyView {
  /** The secret, shown once; only its hash is stored. */
  key: string;
}

export interface NodeView {
  id: string;
  name: string;
  hostname: string;
  user: string | null;
  tags: string[];
  wgKey: string;
  identityKey: string;
  addresses: { ipv4: string; ipv6: string };
  endpoints: string[];
  /** The endpoints with their kind and when the node learned them (candidate version 2); absent from older controllers. */
  candidates?: EndpointCandidate[];
  online: boolean;
  lastSeen: number | null;
  createdAt: number;
  expiresAt: number | null;
  revoked: boolean;
  revokedAt: number | null;
  facts: Facts | null;
  posture: PostureDecision | null;
  /** False while the node waits for `trellis nodes approve`. */
  approved: boolean;
  /** Unix ms the current WireGuard key was registered; its age is what rotation and posture check. */
  wgKeyCreatedAt: number;
  /** The node's WireGuard key rotation interval, ms (keyRotation setting, by tag). */
  keyRotationIntervalMs: number;
  /** Set while a `trellis keys rotate` request waits for the node. */
  rotateRequestedAt: number | null;
  /** Unix ms the identity credential lapses unless the node renews it; null for no lifetime. */
  identityExpiresAt: number | null;
  /** The node relays other pairs' WireGuard datagrams on this UDP port (`trellis up --relay`); null: it does not. */
  relay: RelayOffer | null;
  /** Its role in the topology, peers configured and hub; absent while it is not in the mesh (revoked, expired). */
  topology?: NodeTopologyView;
}

/** POST ROUTES.adminRotateKeys: one node by name, or every live node when node is absent. */
export interface RotateKeysRequest {
  node?: string;
}

export interface RotateKeysResponse {
  /** The nodes asked to rotate, with when; each rotates as soon as it hears (online) or comes back. */
  requested: Array<{ name: string; online: boolean; rotateRequestedAt: number }>;
}

/** POST ROUTES.adminExpire: when the node's key expires, Unix ms; absent = now. */
export interface ExpireNodeRequest {
  at?: number;
}

export interface UserView {
  name: string;
  groups: string[];
  createdAt: number;
}

export interface RemoveUserResponse {
  name: string;
  revokedNodes: string[];
  revokedKeys: string[];
}

export interface GroupView {
  name: string;
  members: string[];
  createdAt: number;
}

export interface PolicyPushRequest {
  /** Relative path (e.g. access/access.rego) to file text; only .rego and .json. */
  files: Record<string, string>;
  /** The pushed dir, for messages and the version history. */
  source?: string;
}

export interface PolicyVersionView {
  version: string;
  source: string;
  size: number;
  createdAt: number;
}

export interface PolicyActivationView {
  version: string;
  at: number;
  actor: string;
  kind: string;
}

export interface PolicyStatusView {
  /** Whether a plugin registered a policy engine (ControllerAccess.policy.registerEngine). */
  engine: boolean;
  active: (PolicyVersionView & { activatedAt: number }) | null;
  /** Activations still in force, newest last: rollback goes to the one before the last. */
  activations: PolicyActivationView[];
  versions: PolicyVersionView[];
}

export interface PolicyChangeResponse {
  version: string;
  previousVersion: string | null;
  /** True when the pushed policy was already the active version. */
  unchanged: boolean;
  testSummary?: string;
}

export interface ExplainRequest {
  /** Node name or user name. */
  from: string;
  /** Node name. */
  to: string;
  proto?: 'tcp' | 'udp' | 'icmp';
  port?: number | null;
}

export interface ExplainResponse {
  allow: boolean;
  reasons: string[];
  policyVersion: string;
  from: string;
  to: string;
  proto: 'tcp' | 'udp' | 'icmp';
  port: number | null;
}

/** GET ROUTES.adminRoutes: one advertised route of one gateway. */
export interface RouteView {
  node: string;
  nodeId: string;
  prefix: string;
  kind: 'subnet' | 'exit';
  priority: number;
  check: string | null;
  /** False once the gateway stopped advertising it (its decision is kept). */
  advertised: boolean;
  status: 'pending' | 'approved' | 'rejected';
  decidedBy: string | null;
  decidedAt: number | null;
  /** The gateway's map stream is open. */
  online: boolean;
  /** The gateway's last report on its check target; null: no check or no report yet. */
  checkOk: boolean | null;
  /** Online, and its check (if any) passes. */
  healthy: boolean;
  /** The gateway peers use for this prefix now (subnets; exit routes are each a choice of the client). */
  primary: boolean;
  /** Exit routes: the nodes whose traffic leaves through this exit node now, by name (absent from older controllers). */
  usedBy?: string[];
}

/** POST ROUTES.adminRouteDecide. */
export interface RouteDecisionRequest {
  /** Node name or id. */
  node: string;
  prefix: string;
  decision: 'approve' | 'reject';
}
