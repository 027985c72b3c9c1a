import type { AuditEntry } from '../audit-repository';
import type { MetaRepository } from '../meta-repository';
import type { PgAuditRepository } from './pg-audit-repository';
import type { PgDatabase, PgQuery } from './pg-database';

/** PgMetaRepository is the key-value meta table; other repositories use its In forms inside their transactions. */
export class PgMetaRepository implements MetaRepository {
  constructor(
    private readonly db: PgDatabase,
    private readonly audit: PgAuditRepository,
  ) {}

  async getIn(q: PgQuery, key: string): Promise<string | null> {
    const row = await q.row<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key]);
    return row ? row.value : null;
  }

  async setIn(q: PgQuery, key: string, value: string): Promise<void> {
    await q.run('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
  }

  getMeta(key: string): Promise<string | null> {
    return this.getIn(this.db.query, key);
  }

  async setMeta(key: string, value: string, audit?: AuditEntry): Promise<void> {
    if (!audit) return this.setIn(this.db.query, key, value);
    await this.db.write(async (tx) => {
      await this.setIn(tx, key, value);
      await this.audit.appendIn(tx, audit);
    });
  }
}
