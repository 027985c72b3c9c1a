import type Database from 'better-sqlite3';
import type { AuditEntry } from '../audit-repository';
import type { MetaRepository } from '../meta-repository';
import type { SqliteAuditRepository } from './sqlite-audit-repository';

/** SqliteMetaRepository is the key-value meta table; other repositories use its Sync forms inside their transactions. */
export class SqliteMetaRepository implements MetaRepository {
  constructor(
    private readonly db: Database.Database,
    private readonly audit: SqliteAuditRepository,
  ) {}

  getSync(key: string): string | null {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row ? row.value : null;
  }

  setSync(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  async getMeta(key: string): Promise<string | null> {
    return this.getSync(key);
  }

  async setMeta(key: string, value: string, audit?: AuditEntry): Promise<void> {
    this.db.transaction(() => {
      this.setSync(key, value);
      if (audit) this.audit.appendSync(audit);
    })();
  }
}
