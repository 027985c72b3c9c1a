/**
 * migrations: the plugin's versioned schema. Each migration is a list of idempotent statements
 * (IF NOT EXISTS); applied versions are recorded in `<prefix>schema_migrations`, so a restart
 * applies only what is missing and a half-applied migration re-runs safely.
 */
import { createHash } from 'node:crypto';
import type { ClickHouseStatements } from './connection';
import { clickhouseErrors } from './errors';
import {
  createDatabase,
  createMigrationsTable,
  ingestLedger,
  MIGRATIONS_TABLE,
  probeHistByTime,
  probeHistByTimeBackfill,
  probeHistRollups,
  probeRollup,
  rawTables,
  relayStats,
  SchemaNames,
  quoteString,
  type BackfillStep,
  type SchemaOptions,
} from './schema';

export interface Migration {
  version: number;
  name: string;
  statements: (o: SchemaOptions) => string[];
  /**
   * Data moved out of an earlier version's tables after `statements`. A step runs only while its
   * source table exists and drops that table last, so re-running a half-applied migration neither
   * fails on a missing table nor copies rows twice.
   */
  backfill?: (o: SchemaOptions) => BackfillStep[];
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'raw telemetry tables', statements: rawTables },
  { version: 2, name: 'one-minute probe rollups', statements: probeRollup },
  { version: 3, name: 'ingest ledger for replay dedup', statements: ingestLedger },
  { version: 4, name: 'histogram probe rollups (1 and 10 minutes) for dashboards', statements: probeHistRollups },
  { version: 5, name: 'histogram probe rollups sorted by time first, backfilled from v4', statements: probeHistByTime, backfill: probeHistByTimeBackfill },
  { version: 6, name: 'relay forwarder samples', statements: relayStats },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

function backfillStatements(m: Migration, o: SchemaOptions): string[] {
  return (m.backfill?.(o) ?? []).flatMap((s) => s.statements);
}

export function migrationChecksum(m: Migration, o: SchemaOptions): string {
  return createHash('sha256').update([...m.statements(o), ...backfillStatements(m, o)].join(';\n')).digest('hex').slice(0, 16);
}

/** allStatements is every statement an upgrade through every version runs, in order (for docs and tests). */
export function allStatements(o: SchemaOptions): string[] {
  return [createDatabase(o), createMigrationsTable(o), ...MIGRATIONS.flatMap((m) => [...m.statements(o), ...backfillStatements(m, o)])];
}

export interface MigrationResult {
  applied: number[];
  version: number;
}

/**
 * migrate brings the database to LATEST_SCHEMA_VERSION (or `upTo`, for tests of an upgrade) and
 * reports which versions it applied.
 */
export async function migrate(conn: ClickHouseStatements, o: SchemaOptions, upTo: number = LATEST_SCHEMA_VERSION): Promise<MigrationResult> {
  const names = new SchemaNames({ ...o, cluster: undefined });
  await conn.command(createDatabase(o), 'create database');
  await conn.command(createMigrationsTable(o), 'create schema_migrations');
  const rows = await conn.queryRows<{ version: number | string }>(
    `SELECT version FROM ${names.table(MIGRATIONS_TABLE)} FINAL ORDER BY version`,
    'read schema_migrations',
  );
  const done = new Set(rows.map((r) => Number(r.version)));
  const applied: number[] = [];
  const run = async (m: Migration, stmt: string) => {
    try {
      await conn.command(stmt, `migration ${m.version}`);
    } catch (err) {
      throw clickhouseErrors.migrationFailed(m.version, m.name, (err as Error).message);
    }
  };
  for (const m of MIGRATIONS) {
    if (done.has(m.version) || m.version > upTo) continue;
    for (const stmt of m.statements(o)) await run(m, stmt);
    for (const step of m.backfill?.(o) ?? []) {
      const present = await conn.queryRows<{ n: number | string }>(
        `SELECT count() AS n FROM system.tables WHERE database = ${quoteString(o.database)} AND name = ${quoteString(step.whileExists)}`,
        `migration ${m.version}: is ${step.whileExists} still there`,
      );
      if (Number(present[0]?.n ?? 0) === 0) continue;
      for (const stmt of step.statements) await run(m, stmt);
    }
    await conn.command(
      `INSERT INTO ${names.table(MIGRATIONS_TABLE)} (version, name, checksum, applied_at) VALUES ` +
        `(${m.version}, ${quoteString(m.name)}, ${quoteString(migrationChecksum(m, o))}, now())`,
      'record migration',
    );
    applied.push(m.version);
  }
  return { applied, version: Math.min(upTo, LATEST_SCHEMA_VERSION) };
}
