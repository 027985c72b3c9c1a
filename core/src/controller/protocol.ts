/**
 * The agent↔controller wire protocol. Node routes are signed with the node identity key
 * (auth/signing.ts); admin routes take `Authorization: Bearer <admin token>`.
 */
import type { Facts, PostureDecision } from '../api/hooks';
import type { NetworkMapData } from '../netmap/types';

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
} as const;

/** Body size limits, bytes. */
export const BODY_LIMITS = {
  enroll: 16 * 1024,
  endpoints: 4 * 1024,
  facts: 64 * 1024,
  admin: 16 * 1024,
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
