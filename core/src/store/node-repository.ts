/**
 * Nodes: enrollment (key check, address allocation, the key's use count and the audit entry in
 * one transaction), endpoints, facts and posture, presence, approval and revocation.
 */
import type { Facts, PostureDecision } from '../api/hooks';
import type { AuditEntry } from './audit-repository';

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

export interface NodeRepository {
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
  /** approveNode lets a waiting node into the mesh and audits; idempotent. Throws NOT_FOUND. */
  approveNode(id: string, at: number, audit: AuditEntry): Promise<NodeRecord>;
}
