/** Applies the PostgreSQL schema steps, one controller at a time (a session advisory lock). */
import { errors } from '../../errors';
import type { Migration } from '../schema-migrations';
import { LOCK_MIGRATE, type PgDatabase, type PgQuery } from './pg-database';

export async function pgSchemaVersions(q: PgQuery): Promise<number[]> {
  const exists = await q.row<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
  if (!exists?.t) return [];
  return (await q.rows<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).map((r) => r.version);
}

/**
 * runPgMigrations applies the steps not applied yet, each in its own transaction (PostgreSQL's DDL
 * is transactional, so a failed step leaves nothing behind), and refuses a database a newer
 * controller has already migrated further. Controllers starting together wait for each other.
 */
export async function runPgMigrations(db: PgDatabase, migrations: Migration[]): Promise<void> {
  await db.withSessionLock(LOCK_MIGRATE, async (q) => {
    await q.run('CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    const applied = new Set(await pgSchemaVersions(q));
    const newest = Math.max(0, ...applied);
    if (newest > Math.max(0, ...migrations.map((m) => m.version))) {
      throw errors.store(`${db.location} has schema version ${newest}, newer than this controller knows; upgrade Trellis`);
    }
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      await q.run('BEGIN');
      try {
        await q.run(m.sql);
        await q.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
        await q.run('COMMIT');
      } catch (err) {
        await q.run('ROLLBACK').catch(() => undefined);
        throw errors.store(`schema step ${m.version} (${m.name}) failed on ${db.location}: ${(err as Error).message}`);
      }
    }
  });
}
