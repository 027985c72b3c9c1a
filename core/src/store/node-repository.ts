/**
 * Nodes: enrollment (key check, address allocation, the key's use count and the audit entry in
 * one transaction), endpoints, facts and posture, presence, approval and revocation, and the key
 * lifecycle: WireGuard key rotation, identity renewal, expiry, and the keys revoked nodes held.
 */
import type { Facts, PostureDecision } from '../api/hooks';
import type { EndpointCandidate, RelayOffer } from '../netmap/types';
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
  /** The same endpoints with their kind and when they were learned; null or absent: only addresses were reported. */
  candidates?: EndpointCandidate[] | null;
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
  /** Unix ms the controller registered the current WireGuard key; absent in test fixtures (then createdAt). */
  wgKeyCreatedAt?: number;
  /** Unix ms the identity credential lapses unless renewed; null for no lifetime. */
  identityExpiresAt?: number | null;
  /** Set by `trellis keys rotate`: the node should rotate its WireGuard key now; cleared by the rotation. */
  rotateRequestedAt?: number | null;
  /** The node relays for other pairs on this port (`trellis up --relay`); null or absent: it does not. */
  relay?: RelayOffer | null;
}

/** KeyLifetimes are the controller's key settings that apply to one node (by its tags). */
export interface NodeKeyLifetimes {
  /** Node key expiry from enrolment, ms, when the auth key names none; null = never. */
  nodeTtlMs: number | null;
  /** Lifetime of the identity credential, ms. */
  identityLifetimeMs: number;
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
  /** `trellis up --relay`: the node offers to relay on this port. */
  relay?: RelayOffer | null;
  now: number;
  /** Who asked, for the audit log (e.g. remote:127.0.0.1). */
  actor: string;
  /** A new node waits for admin approval (controller setting requireApproval). */
  requireApproval?: boolean;
  /** The controller's key settings for a node with these tags; absent = no expiry, no identity lifetime. */
  lifetimes?: (tags: readonly string[]) => NodeKeyLifetimes;
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
  /**
   * setEndpoints stores the reported endpoints and, from a version-2 agent, their candidates (the
   * same addresses in order; null: only addresses). Returns whether either changed.
   */
  setEndpoints(id: string, endpoints: string[], candidates?: EndpointCandidate[] | null): Promise<boolean>;
  /** setRelay records whether (and on which port) the node relays; returns whether it changed. */
  setRelay(id: string, relay: RelayOffer | null): Promise<boolean>;
  /** Returns whether the stored facts or posture changed. */
  setFacts(id: string, facts: Facts, posture: PostureDecision | null): Promise<boolean>;
  touchNode(id: string, at: number): Promise<void>;
  /** approveNode lets a waiting node into the mesh and audits; idempotent. Throws NOT_FOUND. */
  approveNode(id: string, at: number, audit: AuditEntry): Promise<NodeRecord>;
  /**
   * rotateWgKey makes wgKey the node's WireGuard key (created at `at`), retires the old one and
   * clears a rotation request, in one transaction with its audit entry. Registering the key the
   * node already holds changes nothing. Throws NOT_FOUND, NODE_NOT_LIVE, KEY_IN_USE (another node's
   * key), KEY_REVOKED or KEY_RETIRED (a key some node held before).
   */
  rotateWgKey(id: string, wgKey: string, at: number, audit: AuditEntry): Promise<NodeRecord>;
  /**
   * renewIdentity replaces the node's identity key and its lifetime (retiring the old key), with
   * its audit entry. Renewing to the key the node already holds only moves the expiry. Throws
   * NOT_FOUND, NODE_NOT_LIVE, KEY_IN_USE, KEY_REVOKED or KEY_RETIRED.
   */
  renewIdentity(id: string, identityKey: string, expiresAt: number, at: number, audit: AuditEntry): Promise<NodeRecord>;
  /** requestKeyRotation flags live nodes to rotate now and audits each; returns them. Throws NOT_FOUND, NODE_NOT_LIVE. */
  requestKeyRotation(ids: readonly string[], at: number, audit: (node: NodeRecord) => AuditEntry): Promise<NodeRecord[]>;
  /**
   * setNodeExpiry sets when a live node's key expires (at or before now: it leaves the mesh) and
   * audits. Throws NOT_FOUND, NODE_NOT_LIVE (revoked or already expired).
   */
  setNodeExpiry(id: string, expiresAt: number, now: number, audit: AuditEntry): Promise<NodeRecord>;
  /** giveIdentityLifetimes sets identityExpiresAt on live nodes that have none (nodes enrolled before lifetimes existed). */
  giveIdentityLifetimes(expiresAt: (node: NodeRecord) => number | null, at: number): Promise<number>;
}
