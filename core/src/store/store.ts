/**
 * store: the controller's durable state (nodes, auth keys, audit log, nonces, meta) behind one
 * interface. Every method is one atomic operation, so a failure never leaves half a write behind;
 * the interface is async so that a networked store (PostgreSQL) can implement it later.
 */
import type { Facts, PostureDecision } from '../api/hooks';
import type { AuditEvent } from '../controller/protocol';

export interface NodeRecord {
  id: string;
  name: string;
  hostname: string;
  /** Owner user; null for a tagged node. */
  user: string | null;
  tags: string[];
  /** WireGuard public key, base64. */
  wgKey: string;
  /** Ed25519 identity public key, base64; node requests are verified with it. */
  identityKey: string;
  ipv4: string;
  ipv6: string;
  /** Reported underlay endpoints, best first. */
  endpoints: string[];
  /** The auth key that enrolled (or last renewed) the node. */
  authKeyId: string | null;
  lastSeen: number | null;
  createdAt: number;
  expiresAt: number | null;
  revoked: boolean;
  revokedAt: number | null;
  facts: Facts | null;
  posture: PostureDecision | null;
}

export interface AuthKeyRecord {
  id: string;
  tags: string[];
  user: string | null;
  reusable: boolean;
  uses: number;
  createdAt: number;
  expiresAt: number;
  revoked: boolean;
  /** Lifetime of the key of a node enrolled with it, ms; null = never expires. */
  nodeTtlMs: number | null;
}

export interface NewAuthKey extends Omit<AuthKeyRecord, 'uses' | 'revoked'> {
  /** hashSecret(secret); the secret itself never reaches the store. */
  secretHash: string;
}

export interface AuditEntry {
  action: string;
  actor: string;
  target?: string | null;
  details?: Record<string, unknown>;
  /** Unix ms; defaults to now. */
  at?: number;
}

export interface EnrollInput {
  keyId: string;
  /** Compared in constant time with the stored hash, inside the enrollment transaction. */
  secret: string;
  /** Id to give the node if a new one is created. */
  newNodeId: string;
  name: string;
  hostname: string;
  wgKey: string;
  identityKey: string;
  endpoints: string[];
  now: number;
  /** Who asked, for the audit log (e.g. remote:127.0.0.1). */
  actor: string;
}

/**
 * created: a new node. reenrolled: the same identity key came back while its node is live (the
 * node is returned, with refreshed keys/endpoints). renewed: the node had expired and got a new expiry.
 */
export type EnrollOutcome = 'created' | 'reenrolled' | 'renewed';

export interface EnrollResult {
  node: NodeRecord;
  outcome: EnrollOutcome;
  /** An expired node of another identity that held the requested name and was revoked to free it. */
  replaced: NodeRecord | null;
}

export interface Store {
  /** Short name of the backend, e.g. "sqlite". */
  readonly kind: string;
  /** Overlay prefixes the store allocates from. */
  readonly overlay: { ipv4Cidr: string; ipv6Prefix: string };

  getMeta(key: string): Promise<string | null>;
  /** setMeta writes a value (and the audit entry, if given) atomically. */
  setMeta(key: string, value: string, audit?: AuditEntry): Promise<void>;

  createAuthKey(key: NewAuthKey, audit: AuditEntry): Promise<AuthKeyRecord>;
  listAuthKeys(): Promise<AuthKeyRecord[]>;

  /**
   * enrollNode checks the auth key, allocates addresses, counts the use and audits, all in one
   * transaction. Throws TrellisError (ENROLL_KEY_*, NAME_TAKEN, KEY_IN_USE, ADDRESS_POOL_EXHAUSTED).
   */
  enrollNode(input: EnrollInput): Promise<EnrollResult>;
  getNode(id: string): Promise<NodeRecord | null>;
  /** findNode looks up by id, else by name (the live node first, else the newest revoked one). */
  findNode(idOrName: string): Promise<NodeRecord | null>;
  /** All nodes, revoked ones included, ordered by id. */
  listNodes(): Promise<NodeRecord[]>;
  /** revokeNode marks the node revoked and audits; idempotent. Throws NOT_FOUND for an unknown id. */
  revokeNode(id: string, at: number, audit: AuditEntry): Promise<NodeRecord>;
  /** Returns whether the stored endpoints changed. */
  setEndpoints(id: string, endpoints: string[]): Promise<boolean>;
  /** Returns whether the stored facts or posture changed. */
  setFacts(id: string, facts: Facts, posture: PostureDecision | null): Promise<boolean>;
  touchNode(id: string, at: number): Promise<void>;

  /** consumeNonce records a nonce; false when it was seen before (a replay). */
  consumeNonce(nodeId: string, nonce: string, expiresAt: number): Promise<boolean>;
  /** purgeNonces drops nonces whose timestamp window has passed; returns how many. */
  purgeNonces(now: number): Promise<number>;

  appendAudit(entry: AuditEntry): Promise<AuditEvent>;
  /** The newest `limit` events, oldest first. */
  listAudit(limit: number): Promise<AuditEvent[]>;

  close(): Promise<void>;
}
