/**
 * store: the controller's durable state (nodes, auth keys, audit log, nonces, meta) behind one
 * interface. Every method is one atomic operation, so a failure never leaves half a write behind;
 * the interface is async so that a networked store (PostgreSQL) can implement it later.
 */
import type { Facts, PostureDecision } from '../api/hooks';
import type { AuditEvent } from '../wire';

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
  /** False while the node waits for admin approval; absent (older records, test fixtures) means approved. */
  approved?: boolean;
}

export interface UserRecord {
  name: string;
  /** Groups the user belongs to, sorted. */
  groups: string[];
  createdAt: number;
}

export interface GroupRecord {
  name: string;
  /** Member user names, sorted. */
  members: string[];
  createdAt: number;
}

/** One stored policy bundle; the version is the sha256 of its bytes. */
export interface PolicyVersionRecord {
  version: string;
  /** Bundle file, relative to the controller data dir. */
  file: string;
  size: number;
  /** Where it came from (a pushed dir, the shipped bundle, ...), for people. */
  source: string;
  createdAt: number;
}

export interface PolicyActivation {
  seq: number;
  version: string;
  at: number;
  actor: string;
  /** seed | push | rollback */
  kind: string;
}

export interface RemoveUserResult {
  name: string;
  revokedNodes: NodeRecord[];
  revokedKeys: string[];
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
  /** A new node waits for admin approval (controller setting requireApproval). */
  requireApproval?: boolean;
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

  /** approveNode lets a waiting node into the mesh and audits; idempotent. Throws NOT_FOUND. */
  approveNode(id: string, at: number, audit: AuditEntry): Promise<NodeRecord>;

  /** Users own nodes and auth keys; creating an auth key for an unknown user records the user. */
  listUsers(): Promise<UserRecord[]>;
  /** Throws ALREADY_EXISTS. */
  addUser(name: string, at: number, audit: AuditEntry): Promise<UserRecord>;
  /** removeUser revokes the user's live nodes and keys, drops its memberships and the user, in one transaction. */
  removeUser(name: string, at: number, audit: AuditEntry): Promise<RemoveUserResult>;
  listGroups(): Promise<GroupRecord[]>;
  addGroup(name: string, at: number, audit: AuditEntry): Promise<GroupRecord>;
  removeGroup(name: string, audit: AuditEntry): Promise<GroupRecord>;
  /** Both must exist (NOT_FOUND); adding a member twice is a no-op. */
  addGroupMember(group: string, user: string, at: number, audit: AuditEntry): Promise<GroupRecord>;
  removeGroupMember(group: string, user: string, audit: AuditEntry): Promise<GroupRecord>;
  /** user name -> its groups, for every user in some group. */
  userGroups(): Promise<Record<string, string[]>>;

  /**
   * activatePolicy records the version (if new) and makes it the active one, with the audit entry,
   * in one transaction. The bundle file must already be on disk.
   */
  activatePolicy(version: PolicyVersionRecord, activation: { at: number; actor: string; kind: string }, audit: AuditEntry): Promise<void>;
  /** rollbackPolicy undoes the newest activation; returns the version now active. Throws POLICY_NO_PREVIOUS. */
  rollbackPolicy(activation: { at: number; actor: string }, audit: (from: string, to: string) => AuditEntry): Promise<{ from: string; to: PolicyVersionRecord }>;
  /** The active version, or null before the first one. */
  activePolicy(): Promise<(PolicyVersionRecord & { activatedAt: number }) | null>;
  listPolicyVersions(): Promise<PolicyVersionRecord[]>;
  /** Activations still in force, oldest first (the rollback stack). */
  listPolicyActivations(): Promise<PolicyActivation[]>;

  appendAudit(entry: AuditEntry): Promise<AuditEvent>;
  /** The newest `limit` events, oldest first. */
  listAudit(limit: number): Promise<AuditEvent[]>;

  close(): Promise<void>;
}
