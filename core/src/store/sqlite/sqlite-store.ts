/**
 * SqliteStore keeps the controller state in <dataDir>/trellis.db (better-sqlite3, WAL), one
 * repository per aggregate over one connection. Each public method is one transaction; a method
 * that touches several aggregates (enrollment, removing a user) runs their Sync steps inside it.
 */
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { AuditSigner } from '../audit-chain';
import { AddressPool } from '../address-pool';
import { RepositoryStore } from '../repository-store';
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

export class SqliteStore extends RepositoryStore {
  readonly kind = 'sqlite';
  /** One process uses a SQLite file: there is nobody else's change to follow. */
  readonly changes = null;
  readonly overlay: { ipv4Cidr: string; ipv6Prefix: string };
  readonly path: string;
  private readonly db: Database.Database;
  protected readonly audit: SqliteAuditRepository;
  protected readonly meta: SqliteMetaRepository;
  protected readonly nonces: SqliteNonceRepository;
  protected readonly keys: SqliteAuthKeyRepository;
  protected readonly nodes: SqliteNodeRepository;
  protected readonly usersAndGroups: SqliteUserGroupRepository;
  protected readonly policies: SqlitePolicyRepository;
  protected readonly presence: SqlitePresenceRepository;
  protected readonly rotationLeases: SqliteRotationLeaseRepository;
  protected readonly routeRepo: SqliteRouteRepository;

  constructor(opts: SqliteStoreOptions) {
    super();
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

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
