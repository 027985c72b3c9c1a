/**
 * PgStore keeps the controller state in PostgreSQL (node-postgres), with the same repositories,
 * schema versions and semantics as SqliteStore, so that several controllers can share it. Every
 * audited change is one transaction under the store-wide write lock (pg-database.ts); changes that
 * matter to maps are announced with NOTIFY and delivered to the other controllers by `changes`.
 */
import { randomBytes } from 'node:crypto';
import type { Facts, PostureDecision } from '../../api/hooks';
import type { EndpointCandidate, RelayOffer } from '../../netmap/types';
import type { AuditEvent, AuditQuery, AuditVerifyReport } from '../../wire';
import type { AuditSigner } from '../audit-chain';
import { AddressPool } from '../address-pool';
import type { Migration } from '../schema-migrations';
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
import { PgAuditRepository } from './pg-audit-repository';
import { PgAuthKeyRepository } from './pg-auth-key-repository';
import { PgChangeFeed } from './pg-change-feed';
import { PgDatabase } from './pg-database';
import { PgMetaRepository } from './pg-meta-repository';
import { POSTGRES_MIGRATIONS } from './pg-migrations';
import { pgSchemaVersions, runPgMigrations } from './pg-migration-runner';
import { PgNodeRepository } from './pg-node-repository';
import { PgNonceRepository } from './pg-nonce-repository';
import { PgPolicyRepository } from './pg-policy-repository';
import { PgRouteRepository } from './pg-route-repository';
import type { AdvertisedRoute } from '../../netmap/route-rules';
import { PgPresenceRepository } from './pg-presence-repository';
import { PgRotationLeaseRepository } from './pg-rotation-lease-repository';
import { PgUserGroupRepository } from './pg-user-group-repository';

export interface PgStoreOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  ipv4Cidr?: string;
  ipv6Prefix?: string;
  /** Override the migration list (tests of the migration runner). */
  migrations?: Migration[];
  /** Signs the audit chain's checkpoints (the controller's key); without it none are written. */
  auditSigner?: AuditSigner | null;
  /** A checkpoint follows every this many audit entries. Default 100. */
  auditCheckpointEvery?: number;
  /** Connection pool size. Default 8. */
  poolSize?: number;
}

export class PgStore implements Store {
  readonly kind = 'postgres';
  readonly overlay: { ipv4Cidr: string; ipv6Prefix: string };
  readonly changes: PgChangeFeed;
  private readonly db: PgDatabase;
  private readonly audit: PgAuditRepository;
  private readonly meta: PgMetaRepository;
  private readonly nonces: PgNonceRepository;
  private readonly keys: PgAuthKeyRepository;
  private readonly nodes: PgNodeRepository;
  private readonly usersAndGroups: PgUserGroupRepository;
  private readonly policies: PgPolicyRepository;
  private readonly routeRepo: PgRouteRepository;
  private readonly presence: PgPresenceRepository;
  private readonly rotationLeases: PgRotationLeaseRepository;

  private constructor(opts: PgStoreOptions, pool: AddressPool) {
    this.overlay = { ipv4Cidr: pool.ipv4Cidr, ipv6Prefix: pool.ipv6Prefix };
    const origin = randomBytes(8).toString('base64url');
    const db = (this.db = new PgDatabase({ url: opts.url, max: opts.poolSize, origin }));
    this.changes = new PgChangeFeed(opts.url, origin);
    this.audit = new PgAuditRepository(db, { signer: opts.auditSigner, checkpointEvery: opts.auditCheckpointEvery });
    this.meta = new PgMetaRepository(db, this.audit);
    this.nonces = new PgNonceRepository(db);
    this.usersAndGroups = new PgUserGroupRepository({
      db,
      audit: this.audit,
      revokeNodesOf: (tx, user, at) => this.nodes.revokeOwnedByIn(tx, user, at),
      revokeKeysOf: (tx, user) => this.keys.revokeOwnedByIn(tx, user),
    });
    this.keys = new PgAuthKeyRepository(db, this.audit, (q, name, at) => this.usersAndGroups.ensureUserIn(q, name, at));
    this.nodes = new PgNodeRepository({ db, pool, meta: this.meta, audit: this.audit });
    this.policies = new PgPolicyRepository(db, this.meta, this.audit);
    this.routeRepo = new PgRouteRepository(db, this.audit);
    this.presence = new PgPresenceRepository(db);
    this.rotationLeases = new PgRotationLeaseRepository(db);
  }

  /**
   * open connects, migrates (one controller at a time), checks the overlay prefixes and starts the
   * audit chain. Throws TRELLIS_ERR_STORE or CONFIG_INVALID naming what is wrong; nothing stays open.
   */
  static async open(opts: PgStoreOptions): Promise<PgStore> {
    const pool = new AddressPool(opts.ipv4Cidr, opts.ipv6Prefix);
    const store = new PgStore(opts, pool);
    try {
      await store.db.connect();
      await runPgMigrations(store.db, opts.migrations ?? POSTGRES_MIGRATIONS);
      await store.nodes.checkPool();
      await store.audit.startChain(Date.now());
      return store;
    } catch (err) {
      await store.db.close().catch(() => undefined);
      throw err;
    }
  }

  get location(): string {
    return this.db.location;
  }

  schemaVersions(): Promise<number[]> {
    return pgSchemaVersions(this.db.query);
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
  setFacts(id: string, facts: Facts, posture: PostureDecision | null): Promise<boolean> {
    return this.nodes.setFacts(id, facts, posture);
  }
  setRelay(id: string, relay: RelayOffer | null): Promise<boolean> {
    return this.nodes.setRelay(id, relay);
  }
  touchNode(id: string, at: number): Promise<void> {
    return this.nodes.touchNode(id, at);
  }
  approveNode(id: string, at: number, audit: AuditEntry): Promise<NodeRecord> {
    return this.nodes.approveNode(id, at, audit);
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
  rollbackPolicy(activation: { at: number; actor: string }, audit: (from: string, to: string) => AuditEntry): Promise<{ from: string; to: PolicyVersionRecord }> {
    return this.policies.rollbackPolicy(activation, audit);
  }
  policyBundle(version: string): Promise<Buffer | null> {
    return this.policies.policyBundle(version);
  }
  activePolicy(): Promise<(PolicyVersionRecord & { activatedAt: number }) | null> {
    return this.policies.activePolicy();
  }
  listPolicyVersions(): Promise<PolicyVersionRecord[]> {
    return this.policies.listPolicyVersions();
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

  listPolicyActivations(): Promise<PolicyActivation[]> {
    return this.policies.listPolicyActivations();
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
    await this.db.close().catch(() => undefined);
  }
}
