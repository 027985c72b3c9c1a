/**
 * StoreHarness is how the store contract tests (store-contract.ts) reach one backend: open stores
 * on a fresh database per test, and run raw SQL against it as an operator (or an attacker with
 * database access) would. sqlite-harness.ts and test/support/pg-store-harness.ts implement it.
 */
import type { AuditSigner } from '../audit-chain';
import type { Migration } from '../schema-migrations';
import type { Store } from '../store';

export interface HarnessOpenOptions {
  ipv4Cidr?: string;
  ipv6Prefix?: string;
  /** Migrate only up to this schema version (tests of upgrades). */
  maxVersion?: number;
  auditSigner?: AuditSigner | null;
  auditCheckpointEvery?: number;
}

/** A column as both backends describe it: its type class and whether it may be null. */
export interface ColumnShape {
  type: 'text' | 'integer' | 'bytes';
  notNull: boolean;
}

export interface SchemaShape {
  tables: Record<string, Record<string, ColumnShape>>;
  /** Named indexes (not the ones primary keys and UNIQUE columns make by themselves), sorted. */
  indexes: string[];
}

export interface StoreHarness {
  readonly backend: 'sqlite' | 'postgres';
  /** The backend's migration list. */
  readonly migrations: Migration[];
  /** A directory of this test's own (signing keys and the like), emptied by fresh(). */
  readonly scratchDir: string;
  /** fresh closes every open store and starts an empty database. */
  fresh(): Promise<void>;
  /** open opens a store on the current database; closeAll (and fresh) close it. */
  open(opts?: HarnessOpenOptions): Promise<Store>;
  closeAll(): Promise<void>;
  /** exec runs one raw statement with `?` placeholders on the current database. */
  exec(sql: string, params?: unknown[]): Promise<number>;
  all<T>(sql: string, params?: unknown[]): Promise<T[]>;
  /** dropAuditGuards removes the append-only triggers, as someone with full database access can. */
  dropAuditGuards(): Promise<void>;
  tableExists(name: string): Promise<boolean>;
  /** schema describes the current database's tables, columns and indexes. */
  schema(): Promise<SchemaShape>;
  /** dispose removes everything the harness made. */
  dispose(): Promise<void>;
}
