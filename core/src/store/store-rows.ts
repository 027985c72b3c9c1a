/**
 * Row shapes and their mapping to records, shared by the SQLite and PostgreSQL repositories: both
 * schemas have the same columns and types (flags 0/1, unix ms as integers, JSON as text).
 */
import type { Facts, PostureDecision } from '../api/hooks';
import type { EndpointCandidate } from '../netmap/types';
import type { AuditEvent } from '../wire';
import type { AuthKeyRecord } from './auth-key-repository';
import type { NodeRecord } from './node-repository';
import type { PolicyVersionRecord } from './policy-repository';

export interface NodeRow {
  id: string;
  name: string;
  hostname: string;
  owner_user: string | null;
  tags: string;
  wg_key: string;
  identity_key: string;
  addr_index: number;
  ipv4: string;
  ipv6: string;
  endpoints: string;
  auth_key_id: string | null;
  last_seen: number | null;
  created_at: number;
  expires_at: number | null;
  revoked: number;
  revoked_at: number | null;
  facts: string | null;
  posture: string | null;
  approved: number;
  approved_at: number | null;
  wg_key_created_at: number | null;
  identity_expires_at: number | null;
  rotate_requested_at: number | null;
  relay_port: number | null;
  /** JSON EndpointCandidate[]; null: only addresses were reported (read as local candidates). */
  candidates?: string | null;
}

export const toNode = (r: NodeRow): NodeRecord => ({
  id: r.id,
  name: r.name,
  hostname: r.hostname,
  user: r.owner_user,
  tags: JSON.parse(r.tags) as string[],
  wgKey: r.wg_key,
  identityKey: r.identity_key,
  ipv4: r.ipv4,
  ipv6: r.ipv6,
  endpoints: JSON.parse(r.endpoints) as string[],
  authKeyId: r.auth_key_id,
  lastSeen: r.last_seen,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revoked: r.revoked === 1,
  revokedAt: r.revoked_at,
  facts: r.facts === null ? null : (JSON.parse(r.facts) as Facts),
  posture: r.posture === null ? null : (JSON.parse(r.posture) as PostureDecision),
  approved: r.approved !== 0,
  wgKeyCreatedAt: r.wg_key_created_at ?? r.created_at,
  identityExpiresAt: r.identity_expires_at,
  rotateRequestedAt: r.rotate_requested_at,
  relay: r.relay_port === null ? null : { port: r.relay_port },
  candidates: r.candidates ? (JSON.parse(r.candidates) as EndpointCandidate[]) : null,
});

export const isExpired = (n: NodeRecord, now: number) => n.expiresAt !== null && n.expiresAt <= now;

/** The key rows node_keys holds: every WireGuard and identity key a node ever held. */
export interface NodeKeyRow {
  node_id: string;
  retired_at: number | null;
  revoked_at: number | null;
}

export type NodeKeyKind = 'wg' | 'identity';
export const KEY_KIND_LABEL: Record<NodeKeyKind, 'WireGuard' | 'identity'> = { wg: 'WireGuard', identity: 'identity' };

export interface KeyRow {
  id: string;
  secret_hash: string;
  tags: string;
  owner_user: string | null;
  reusable: number;
  uses: number;
  created_at: number;
  expires_at: number;
  revoked: number;
  node_ttl_ms: number | null;
}

export const toKey = (r: KeyRow): AuthKeyRecord => ({
  id: r.id,
  tags: JSON.parse(r.tags) as string[],
  user: r.owner_user,
  reusable: r.reusable === 1,
  uses: r.uses,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revoked: r.revoked === 1,
  nodeTtlMs: r.node_ttl_ms,
});

export interface AuditRow {
  seq: number;
  at: number;
  action: string;
  actor: string;
  target: string | null;
  details: string;
  prev_hash: string | null;
  hash: string | null;
}

export const toAudit = (r: AuditRow): AuditEvent => ({
  seq: r.seq,
  at: r.at,
  action: r.action,
  actor: r.actor,
  target: r.target,
  details: JSON.parse(r.details) as Record<string, unknown>,
  prevHash: r.prev_hash,
  hash: r.hash,
});

export interface PolicyVersionRow {
  version: string;
  file: string;
  size: number;
  source: string;
  created_at: number;
}

export const toVersion = (r: PolicyVersionRow): PolicyVersionRecord => ({ version: r.version, file: r.file, size: r.size, source: r.source, createdAt: r.created_at });

/** Meta keys the node repositories keep: the overlay prefixes (fixed at first start) and the allocation cursor. */
export const META_IPV4 = 'ipam.ipv4Cidr';
export const META_IPV6 = 'ipam.ipv6Prefix';
export const META_CURSOR = 'ipam.cursor';
/** The active policy version. */
export const META_POLICY_ACTIVE = 'policy.activeVersion';
