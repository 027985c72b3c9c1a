/** The SQLite schema: the store's steps in SQLite's dialect, and the runner that applies them. */
import type Database from 'better-sqlite3';
import { errors } from '../../errors';
import { schemaMigrations, type Migration, type SqlDialect } from '../schema-migrations';

/** SQLITE_DIALECT is how SQLite spells the schema steps' words. */
export const SQLITE_DIALECT: SqlDialect = {
  name: 'sqlite',
  integer: 'INTEGER',
  bytes: 'BLOB',
  withoutRowid: ' WITHOUT ROWID',
  insertIgnoring: (intoSelect) => `INSERT OR IGNORE ${intoSelect}`,
  pick: (text) => text.sqlite,
};

/** The SQLite schema history (store/schema-migrations.ts, in SQLite's words). */
export const SQLITE_MIGRATIONS: Migration[] = schemaMigrations(SQLITE_DIALECT);

/** schemaVersions lists the applied schema versions, oldest first. */
export function schemaVersions(db: Database.Database): number[] {
  return (db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{ version: number }>).map((r) => r.version);
}

/**
 * runMigrations applies the steps not applied yet, each in its own transaction, and refuses a
 * database a newer controller has already migrated further.
 */
export function runMigrations(db: Database.Database, path: string, migrations: Migration[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied = new Set(schemaVersions(db));
  const known = new Set(migrations.map((m) => m.version));
  const newest = Math.max(0, ...applied);
  if (newest > Math.max(0, ...known)) {
    throw errors.store(`${path} has schema version ${newest}, newer than this controller knows; upgrade Trellis`);
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
    })();
  }
}
