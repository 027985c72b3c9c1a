/**
 * PgStore keeps the controller state in PostgreSQL (node-postgres), with the same repositories,
 * schema versions and semantics as SqliteStore, so that several controllers can share it. Every
 * audited change is one transaction under the store-wide write lock (pg-database.ts); changes that
 * matter to maps are announced with NOTIFY and delivered to the other controllers by `changes`.
 */
import { randomBytes } from 'node:crypto';
import type { AuditSigner } from '../audit-chain';
import { AddressPool } from '../address-pool';
import { RepositoryStore } from '../repository-store';
import type { Migration } from '../schema-migrations';
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

export class PgStore extends RepositoryStore {
  readonly kind = 'postgres';
  readonly overlay: { ipv4Cidr: string; ipv6Prefix: string };
  readonly changes: PgChangeFeed;
  private readonly db: PgDatabase;
  protected readonly audit: PgAuditRepository;
  protected readonly meta: PgMetaRepository;
  protected readonly nonces: PgNonceRepository;
  protected readonly keys: PgAuthKeyRepository;
  protected readonly nodes: PgNodeRepository;
  protected readonly usersAndGroups: PgUserGroupRepository;
  protected readonly policies: PgPolicyRepository;
  protected readonly routeRepo: PgRouteRepository;
  protected readonly presence: PgPresenceRepository;
  protected readonly rotationLeases: PgRotationLeaseRepository;

  private constructor(opts: PgStoreOptions, pool: AddressPool) {
    super();
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

  async close(): Promise<void> {
    await this.db.close().catch(() => undefined);
  }
}
