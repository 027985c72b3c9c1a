/** The SQLite StoreHarness: a new data dir per test, raw SQL through a second connection. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SQLITE_MIGRATIONS } from '../sqlite/migrations';
import { SqliteStore } from '../sqlite/sqlite-store';
import type { Store } from '../store';
import type { ColumnShape, HarnessOpenOptions, SchemaShape, StoreHarness } from './store-harness';

const typeClass = (declared: string): ColumnShape['type'] => (/INT/i.test(declared) ? 'integer' : /BLOB/i.test(declared) ? 'bytes' : 'text');

export class SqliteHarness implements StoreHarness {
  readonly backend = 'sqlite';
  readonly migrations = SQLITE_MIGRATIONS;
  private dir = '';
  private readonly stores: Store[] = [];

  get scratchDir(): string {
    return this.dir;
  }

  get dataDir(): string {
    return this.dir;
  }

  async fresh(): Promise<void> {
    await this.closeAll();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = mkdtempSync(join(tmpdir(), 'trellis-store-'));
  }

  async open(opts: HarnessOpenOptions = {}): Promise<Store> {
    const s = new SqliteStore({
      dataDir: this.dir,
      ipv4Cidr: opts.ipv4Cidr,
      ipv6Prefix: opts.ipv6Prefix,
      migrations: opts.maxVersion === undefined ? undefined : SQLITE_MIGRATIONS.filter((m) => m.version <= opts.maxVersion!),
      auditSigner: opts.auditSigner,
      auditCheckpointEvery: opts.auditCheckpointEvery,
    });
    this.stores.push(s);
    return s;
  }

  async closeAll(): Promise<void> {
    for (const s of this.stores.splice(0)) await s.close();
  }

  private raw<T>(fn: (db: Database.Database) => T): T {
    const db = new Database(join(this.dir, 'trellis.db'));
    try {
      return fn(db);
    } catch (err) {
      // better-sqlite3's native side keeps the SqliteError class of the first test file a Jest
      // worker loaded it in; an Error of this file's realm is what rejects.toThrow recognises.
      throw new Error((err as Error).message);
    } finally {
      db.close();
    }
  }

  async exec(sql: string, params: unknown[] = []): Promise<number> {
    return this.raw((db) => db.prepare(sql).run(...params).changes);
  }

  async all<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.raw((db) => db.prepare(sql).all(...params) as T[]);
  }

  async dropAuditGuards(): Promise<void> {
    this.raw((db) => db.exec('DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;'));
  }

  async tableExists(name: string): Promise<boolean> {
    return this.raw((db) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined);
  }

  async schema(): Promise<SchemaShape> {
    return this.raw((db) => {
      const tables: SchemaShape['tables'] = {};
      const names = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
      for (const t of names) {
        const cols = db.prepare(`PRAGMA table_info(${t})`).all() as Array<{ name: string; type: string; notnull: number; pk: number }>;
        tables[t] = Object.fromEntries(cols.map((c) => [c.name, { type: typeClass(c.type), notNull: c.notnull === 1 || c.pk > 0 }]));
      }
      const indexes = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
      return { tables, indexes };
    });
  }

  async dispose(): Promise<void> {
    await this.closeAll();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
