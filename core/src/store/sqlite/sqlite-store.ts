/**
 * SqliteStore keeps the controller state in <dataDir>/trellis.db (better-sqlite3, WAL), one
 * repository per aggregate over one connection. Each public method is one transaction; a method
 * that touches several aggregates (enrollment, removing a user) runs their Sync steps inside it.
 */
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Facts, PostureDecision } from '../../api/hooks';
import type { EndpointCandidate, RelayOffer } from '../../netmap/types';
import type { AuditEvent, AuditQuery, AuditVerifyReport } from '../../wire';
import type { AuditSigner } from '../audit-chain';
import { AddressPool } from '../address-pool';
import type {
  AuditEntry,
  AuthKeyRecord,
  ControllerRecord,
  EnrollInput,
  EnrollResult,
  GroupRecord,
  NewAuthKey,
  NodeRecord,
  NodeStreamRecord,
  PolicyActivation,
  PolicyVersionRecord,
  RemoveUserResult,
  RotationLeaseOutcome,
  RouteDecision,
  RouteRecord,
  Store,
  UserRecord,
} from '../store';
import type { Migration } from '../schema-migrations';
import { runMigrations, schemaVersions, SQLITE_MIGRATIONS } from './migrations';
import { SqliteAuditRepository } from './sqlite-audit-repository';
import { SqliteAuthKeyRepository } from './sqlite-auth-key-repository';
import { SqliteMetaRepository } from './sqlite-meta-repository';
import { SqliteNodeRepository } from './sqlite-node-repository';
import { SqliteNonceRepository } from './sqlite-nonce-repository';
import { SqlitePolicyRepository } from './sqlite-policy-repository';
import { SqlitePresenceRepository } from './sqlite-presence-repository';
import { SqliteRotationLeaseRepository } from './sqlite-rotation-lease-repository';
import { SqliteRouteRepository } from './sqlite-route-repository';
import type { AdvertisedRoute } from '../../netmap/route-rules';
import { SqliteUserGroupRepository } from './sqlite-user-group-repository';

export interface SqliteStoreOptions {
  /** Directory holding trellis.db; created (0700) if missing. */
  dataDir: string;
  ipv4Cidr?: string;
  ipv6Prefix?: string;
  /** Override the migration list (tests of the migration runner). */
  migrations?: Migration[];
  /** Signs the audit chain's checkpoints (the controller's key); without it none are written. */
  auditSigner?: AuditSigner | null;
  /** A checkpoint follows every this many audit entries. Default 100. */
  auditCheckpointEvery?: number;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  /** One process uses a SQLite file: there is nobody else's change to follow. */
  readonly changes = null;
  readonly overlay: { ipv4Cidr: string; ipv6Prefix: string };
  readonly path: string;
  private readonly db: Database.Database;
  private readonly audit: SqliteAuditRepository;
  private readonly meta: SqliteMetaRepository;
  private readonly nonces: SqliteNonceRepository;
  private readonly keys: SqliteAuthKeyRepository;
  private readonly nodes: SqliteNodeRepository;
  private readonly usersAndGroups: SqliteUserGroupRepository;
  private readonly policies: SqlitePolicyRepository;
  private readonly presence: SqlitePresenceRepository;
  private readonly rotationLeases: SqliteRotationLeaseRepository;
  private readonly routeRepo: SqliteRouteRepository;

  constructor(opts: SqliteStoreOptions) {
    const pool = new AddressPool(opts.ipv4Cidr, opts.ipv6Prefix);
    this.overlay = { ipv4Cidr: pool.ipv4Cidr, ipv6Prefix: pool.ipv6Prefix };
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    // The data dir holds the admin token and the database: nobody else reads it.
    if ((statSync(opts.dataDir).mode & 0o077) !== 0) chmodSync(opts.dataDir, 0o700);
    this.path = join(opts.dataDir, 'trellis.db');
    const db = (this.db = new Database(this.path));
    this.audit = new SqliteAuditRepository(db, { signer: opts.auditSigner, checkpointEvery: opts.auditCheckpointEvery });
    this.meta = new SqliteMetaRepository(db, this.audit);
    this.nonces = new SqliteNonceRepository(db);
    this.keys = new SqliteAuthKeyRepository(db, this.audit, (name, at) => this.usersAndGroups.ensureUserSync(name, at));
    this.nodes = new SqliteNodeRepository({ db, path: this.path, pool, meta: this.meta, keys: this.keys, audit: this.audit });
    this.usersAndGroups = new SqliteUserGroupRepository({
      db,
      audit: this.audit,
      revokeNodesOf: (user, at) => this.nodes.revokeOwnedBySync(user, at),
      revokeKeysOf: (user) => this.keys.revokeOwnedBySync(user),
    });
    this.policies = new SqlitePolicyRepository(db, this.meta, this.audit);
    this.presence = new SqlitePresenceRepository(db);
    this.rotationLeases = new SqliteRotationLeaseRepository(db);
    this.routeRepo = new SqliteRouteRepository(db, this.audit);
    try {
      chmodSync(this.path, 0o600);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      runMigrations(db, this.path, opts.migrations ?? SQLITE_MIGRATIONS);
      this.nodes.checkPool();
      this.audit.startChain(Date.now());
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** The applied schema versions, oldest first. */
  async schemaVersions(): Promise<number[]> {
    return schemaVersions(this.db);
  }

  get location(): string {
    return this.path;
  }

  getMeta(key: string): Promise<string | null> {
    return this.meta.getMeta(key);
  }
  setMeta(key: string, value: string, audit?: AuditEntry): Promise<void> {
    return this.meta.setMeta(key, value, audit);
  }

  createAuthKey(key: NewAuthKey, audit: AuditEntry): Promise<AuthKeyRecord> {
    return this.keys.createAuthKey(key, audit);
  }
  listAuthKeys(): Promise<AuthKeyRecord[]> {
    return this.keys.listAuthKeys();
  }
  revokeAuthKey(id: string, audit: AuditEntry): Promise<AuthKeyRecord> {
    return this.keys.revokeAuthKey(id, audit);
  }

  enrollNode(input: EnrollInput): Promise<EnrollResult> {
    return this.nodes.enrollNode(input);
  }
  getNode(id: string): Promise<NodeRecord | null> {
    return this.nodes.getNode(id);
  }
  findNode(idOrName: string): Promise<NodeRecord | null> {
    return this.nodes.findNode(idOrName);
  }
  listNodes(): Promise<NodeRecord[]> {
    return this.nodes.listNodes();
  }
  revokeNode(id: string, at: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.nodes.revokeNode(id, at, audit);
  }
  setEndpoints(id: string, endpoints: string[], candidates?: EndpointCandidate[] | null): Promise<boolean> {
    return this.nodes.setEndpoints(id, endpoints, candidates);
  }
  setRelay(id: string, relay: RelayOffer | null): Promise<boolean> {
    return this.nodes.setRelay(id, relay);
  }
  setFacts(id: string, facts: Facts, posture: PostureDecision | null): Promise<boolean> {
    return this.nodes.setFacts(id, facts, posture);
  }
  touchNode(id: string, at: number): Promise<void> {
    return this.nodes.touchNode(id, at);
  }
  approveNode(id: string, at: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.nodes.approveNode(id, at, audit);
  }

  consumeNonce(nodeId: string, nonce: string, expiresAt: number): Promise<boolean> {
    return this.nonces.consumeNonce(nodeId, nonce, expiresAt);
  }
  purgeNonces(now: number): Promise<number> {
    return this.nonces.purgeNonces(now);
  }

  listUsers(): Promise<UserRecord[]> {
    return this.usersAndGroups.listUsers();
  }
  addUser(name: string, at: number, audit: AuditEntry): Promise<UserRecord> {
    return this.usersAndGroups.addUser(name, at, audit);
  }
  removeUser(name: string, at: number, audit: AuditEntry): Promise<RemoveUserResult> {
    return this.usersAndGroups.removeUser(name, at, audit);
  }
  listGroups(): Promise<GroupRecord[]> {
    return this.usersAndGroups.listGroups();
  }
  addGroup(name: string, at: number, audit: AuditEntry): Promise<GroupRecord> {
    return this.usersAndGroups.addGroup(name, at, audit);
  }
  removeGroup(name: string, audit: AuditEntry): Promise<GroupRecord> {
    return this.usersAndGroups.removeGroup(name, audit);
  }
  addGroupMember(group: string, user: string, at: number, audit: AuditEntry): Promise<GroupRecord> {
    return this.usersAndGroups.addGroupMember(group, user, at, audit);
  }
  removeGroupMember(group: string, user: string, audit: AuditEntry): Promise<GroupRecord> {
    return this.usersAndGroups.removeGroupMember(group, user, audit);
  }
  userGroups(): Promise<Record<string, string[]>> {
    return this.usersAndGroups.userGroups();
  }

  activatePolicy(version: PolicyVersionRecord, activation: { at: number; actor: string; kind: string }, audit: AuditEntry, bundle?: Buffer): Promise<void> {
    return this.policies.activatePolicy(version, activation, audit, bundle);
  }
  policyBundle(version: string): Promise<Buffer | null> {
    return this.policies.policyBundle(version);
  }
  rollbackPolicy(activation: { at: number; actor: string }, audit: (from: string, to: string) => AuditEntry): Promise<{ from: string; to: PolicyVersionRecord }> {
    return this.policies.rollbackPolicy(activation, audit);
  }
  activePolicy(): Promise<(PolicyVersionRecord & { activatedAt: number }) | null> {
    return this.policies.activePolicy();
  }
  listPolicyVersions(): Promise<PolicyVersionRecord[]> {
    return this.policies.listPolicyVersions();
  }
  listPolicyActivations(): Promise<PolicyActivation[]> {
    return this.policies.listPolicyActivations();
  }

  listRoutes(): Promise<RouteRecord[]> {
    return this.routeRepo.listRoutes();
  }
  advertiseRoutes(nodeId: string, routes: readonly AdvertisedRoute[], at: number, audit: AuditEntry): Promise<{ routes: RouteRecord[]; changed: boolean }> {
    return this.routeRepo.advertiseRoutes(nodeId, routes, at, audit);
  }
  decideRoute(nodeId: string, prefix: string, decision: RouteDecision, audit: AuditEntry | null, guard?: (all: readonly RouteRecord[]) => void): Promise<RouteRecord> {
    return this.routeRepo.decideRoute(nodeId, prefix, decision, audit, guard);
  }

  appendAudit(entry: AuditEntry): Promise<AuditEvent> {
    return this.audit.appendAudit(entry);
  }
  listAudit(limit: number): Promise<AuditEvent[]> {
    return this.audit.listAudit(limit);
  }
  queryAudit(query: AuditQuery): Promise<AuditEvent[]> {
    return this.audit.queryAudit(query);
  }
  readAuditPage(afterSeq: number, limit: number): Promise<AuditEvent[]> {
    return this.audit.readAuditPage(afterSeq, limit);
  }
  auditHead(): Promise<{ seq: number; hash: string | null } | null> {
    return this.audit.auditHead();
  }
  checkpointAudit(at: number): Promise<AuditEvent | null> {
    return this.audit.checkpointAudit(at);
  }
  verifyAudit(publicKey: string | null): Promise<AuditVerifyReport> {
    return this.audit.verifyAudit(publicKey);
  }

  rotateWgKey(id: string, wgKey: string, at: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.nodes.rotateWgKey(id, wgKey, at, audit);
  }
  renewIdentity(id: string, identityKey: string, expiresAt: number, at: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.nodes.renewIdentity(id, identityKey, expiresAt, at, audit);
  }
  requestKeyRotation(ids: readonly string[], at: number, audit: (node: NodeRecord) => AuditEntry): Promise<NodeRecord[]> {
    return this.nodes.requestKeyRotation(ids, at, audit);
  }
  setNodeExpiry(id: string, expiresAt: number, now: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.nodes.setNodeExpiry(id, expiresAt, now, audit);
  }
  giveIdentityLifetimes(expiresAt: (node: NodeRecord) => number | null, at: number): Promise<number> {
    return this.nodes.giveIdentityLifetimes(expiresAt, at);
  }

  heartbeatController(controller: Omit<ControllerRecord, 'heartbeatAt'>, at: number): Promise<void> {
    return this.presence.heartbeatController(controller, at);
  }
  listControllers(): Promise<ControllerRecord[]> {
    return this.presence.listControllers();
  }
  removeController(id: string): Promise<string[]> {
    return this.presence.removeController(id);
  }
  setNodeStream(nodeId: string, controllerId: string, online: boolean, at: number): Promise<void> {
    return this.presence.setNodeStream(nodeId, controllerId, online, at);
  }
  listNodeStreams(): Promise<NodeStreamRecord[]> {
    return this.presence.listNodeStreams();
  }

  takeRotationLease(nodeId: string, peerIds: readonly string[], now: number, until: number): Promise<RotationLeaseOutcome> {
    return this.rotationLeases.takeRotationLease(nodeId, peerIds, now, until);
  }
  holdRotationLease(nodeId: string, until: number): Promise<void> {
    return this.rotationLeases.holdRotationLease(nodeId, until);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
