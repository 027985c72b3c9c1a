/**
 * The PostgreSQL schema: the store's steps (store/schema-migrations.ts) in PostgreSQL's dialect.
 * Column types mirror SQLite's (TEXT, BIGINT for integers, 0/1 flags, JSON as TEXT, BYTEA for
 * bytes), so every repository reads the same row shapes from both.
 */
import { schemaMigrations, type Migration, type SqlDialect } from '../schema-migrations';

/** POSTGRES_DIALECT is how PostgreSQL spells the schema steps' words. */
export const POSTGRES_DIALECT: SqlDialect = {
  name: 'postgres',
  integer: 'BIGINT',
  bytes: 'BYTEA',
  withoutRowid: '',
  insertIgnoring: (intoSelect) => `INSERT ${intoSelect} ON CONFLICT DO NOTHING`,
  pick: (text) => text.postgres,
};

/** The PostgreSQL schema history. */
export const POSTGRES_MIGRATIONS: Migration[] = schemaMigrations(POSTGRES_DIALECT);
