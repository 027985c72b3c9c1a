/**
 * The PostgreSQL StoreHarness: one private cluster (initdb + pg_ctl in a temp dir) for a test file,
 * a new database per test, raw SQL as the superuser (with `?` placeholders turned into $n).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresCluster } from '../../core/src/lab/postgres-cluster';
import { POSTGRES_MIGRATIONS } from '../../core/src/store/postgres/pg-migrations';
import { PgStore } from '../../core/src/store/postgres/pg-store';
import type { Store } from '../../core/src/store/store';
import type { ColumnShape, HarnessOpenOptions, SchemaShape, StoreHarness } from '../../core/src/store/testing/store-harness';

/** toDollar turns `?` placeholders into $1, $2, ... (outside quoted strings). */
export function toDollar(sql: string): string {
  let n = 0;
  let quoted = false;
  let out = '';
  for (const ch of sql) {
    if (ch === "'") quoted = !quoted;
    out += ch === '?' && !quoted ? `$${++n}` : ch;
  }
  return out;
}

const typeClass = (t: string): ColumnShape['type'] => (/int|numeric/.test(t) ? 'integer' : t === 'bytea' ? 'bytes' : 'text');

export class PgHarness implements StoreHarness {
  readonly backend = 'postgres';
  readonly migrations = POSTGRES_MIGRATIONS;
  private cluster: PostgresCluster | null = null;
  private db = '';
  private count = 0;
  private dir = '';
  private readonly stores: Store[] = [];

  /** start starts the cluster (call in beforeAll, under the machine-wide lock). */
  async start(): Promise<PostgresCluster> {
    this.cluster = await PostgresCluster.start({ durable: false });
    return this.cluster;
  }

  get scratchDir(): string {
    return this.dir;
  }

  get url(): string {
    return this.cluster!.url(this.db);
  }

  async fresh(): Promise<void> {
    await this.closeAll();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = mkdtempSync(join(tmpdir(), 'trellis-pgtest-'));
    this.db = `t${++this.count}`;
    await this.cluster!.createDatabase(this.db);
  }

  async open(opts: HarnessOpenOptions = {}): Promise<Store> {
    const s = await PgStore.open({
      url: this.url,
      ipv4Cidr: opts.ipv4Cidr,
      ipv6Prefix: opts.ipv6Prefix,
      migrations: opts.maxVersion === undefined ? undefined : POSTGRES_MIGRATIONS.filter((m) => m.version <= opts.maxVersion!),
      auditSigner: opts.auditSigner,
      auditCheckpointEvery: opts.auditCheckpointEvery,
    });
    this.stores.push(s);
    return s;
  }

  async closeAll(): Promise<void> {
    for (const s of this.stores.splice(0)) await s.close();
  }

  exec(sql: string, params: unknown[] = []): Promise<number> {
    return this.cluster!.exec(this.db, toDollar(sql), params);
  }

  all<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.cluster!.sql<T>(this.db, toDollar(sql), params);
  }

  async dropAuditGuards(): Promise<void> {
    await this.cluster!.sql(this.db, 'DROP TRIGGER IF EXISTS audit_no_update ON audit; DROP TRIGGER IF EXISTS audit_no_delete ON audit; DROP TRIGGER IF EXISTS audit_no_truncate ON audit');
  }

  async tableExists(name: string): Promise<boolean> {
    const [r] = await this.cluster!.sql<{ t: string | null }>(this.db, 'SELECT to_regclass($1)::text AS t', [name]);
    return r?.t !== null && r?.t !== undefined;
  }

  async schema(): Promise<SchemaShape> {
    const cols = await this.cluster!.sql<{ table_name: string; column_name: string; data_type: string; is_nullable: string }>(
      this.db,
      "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
    );
    const tables: SchemaShape['tables'] = {};
    for (const c of cols) (tables[c.table_name] ??= {})[c.column_name] = { type: typeClass(c.data_type), notNull: c.is_nullable === 'NO' };
    // Named indexes only: not those a PRIMARY KEY or UNIQUE column makes (SQLite names those sqlite_autoindex_*).
    const idx = await this.cluster!.sql<{ indexname: string }>(
      this.db,
      "SELECT i.indexname FROM pg_indexes i WHERE i.schemaname = 'public' AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname) ORDER BY i.indexname",
    );
    return { tables, indexes: idx.map((r) => r.indexname) };
  }

  async dispose(): Promise<void> {
    await this.closeAll();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    await this.cluster?.remove();
    this.cluster = null;
  }
}
