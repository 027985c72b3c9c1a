/**
 * The agent↔controller wire protocol. Node routes are signed with the node identity key
 * (auth/signing.ts); admin routes take `Authorization: Bearer <admin token>`.
 */
import type { Facts, PostureDecision } from '../api/hooks';
import type { NetworkMapData } from '../netmap/types';
import type { TelemetryBatch } from '../api/telemetry';

export const ROUTES = {
  health: '/healthz',
  enroll: '/v1/enroll',
  /** GET, signed; SSE stream of `event: map` (MapResponse JSON) and `event: ping`. Query: since, epoch. */
  mapStream: '/v1/map/stream',
  /** POST, signed: reported endpoints; doubles as a heartbeat. */
  endpoints: '/v1/node/endpoints',
  /** POST, signed: device facts and the local posture decision. */
  facts: '/v1/node/facts',
  adminKeys: '/v1/admin/keys',
  adminNodes: '/v1/admin/nodes',
  /** POST /v1/admin/nodes/:name/revoke */
  adminRevoke: '/v1/admin/nodes/:name/revoke',
  adminAudit: '/v1/admin/audit',
  /** POST, signed: a telemetry batch (api/telemetry.ts TelemetryBatch without node/nodeId). */
  telemetry: '/v1/node/telemetry',
  /** GET, admin: the latest per-path figures (LiveTelemetry). */
  adminTelemetryLive: '/v1/admin/telemetry/live',
  /** POST /v1/admin/nodes/:name/approve: let a node waiting for approval into the mesh. */
  adminApprove: '/v1/admin/nodes/:name/approve',
  /** GET list, POST { name } add. */
  adminUsers: '/v1/admin/users',
  /** DELETE: remove the user, revoking its nodes and keys. */
  adminUser: '/v1/admin/users/:name',
  /** GET list, POST { name } add. */
  adminGroups: '/v1/admin/groups',
  /** DELETE: remove the group. */
  adminGroup: '/v1/admin/groups/:name',
  /** POST { user }: add a member. */
  adminGroupMembers: '/v1/admin/groups/:name/members',
  /** DELETE: remove a member. */
  adminGroupMember: '/v1/admin/groups/:name/members/:user',
  /** GET: active policy version and history; POST { files, source }: compile, test and activate. */
  adminPolicy: '/v1/admin/policy',
  /** POST: go back to the version active before the current one. */
  adminPolicyRollback: '/v1/admin/policy/rollback',
  /** POST { from, to, proto, port }: the active policy's decision and its reasons. */
  adminPolicyExplain: '/v1/admin/policy/explain',
  /** GET, signed: the active policy bundle (application/gzip), version in x-trellis-policy-version. */
  policyBundle: '/v1/policy/bundle',
} as const;

/** Response header carrying the policy version of GET /v1/policy/bundle. */
export const POLICY_VERSION_HEADER = 'x-trellis-policy-version';

/** Body size limits, bytes. */
export const BODY_LIMITS = {
  enroll: 16 * 1024,
  endpoints: 4 * 1024,
  facts: 64 * 1024,
  admin: 16 * 1024,
  telemetry: 1024 * 1024,
  /** A pushed policy dir (rego + data.json). */
  policy: 2 * 1024 * 1024,
} as const;

export interface EnrollRequest {
  authKey: string;
  name: string;
  hostname: string;
  /** base64 X25519 public key */
  wgKey: string;
  /** base64 Ed25519 public key */
  identityKey: string;
  endpoints: string[];
}

export interface EnrollResponse {
  nodeId: string;
  name: string;
  addresses: { ipv4: string; ipv6: string };
  map: NetworkMapData;
}

export interface EndpointsRequest {
  endpoints: string[];
}

export interface FactsRequest {
  facts: Facts;
  posture?: PostureDecision | null;
}

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
  /** Whether a policy engine plugin (posture-opa) is loaded. */
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

export interface AuditEvent {
  seq: number;
  at: number;
  action: string;
  actor: string;
  target: string | null;
  details: Record<string, unknown>;
}

export interface ErrorBody {
  error: { code: string; message: string };
}

/** What an agent posts to ROUTES.telemetry: node and nodeId are set by the controller from the signature. */
export type TelemetryRequest = Omit<TelemetryBatch, 'node' | 'nodeId'>;

export interface TelemetryResponse {
  /** True when this batchId had been accepted before (a retry); the rows were not exported again. */
  duplicate: boolean;
  accepted: { probes: number; tunnels: number; shaping: number };
}
