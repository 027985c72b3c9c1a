/**
 * ClickHouse as users run it today. Debian's clickhouse-server is 18.16; users run 24.x-26.x, whose
 * analyzer is stricter. Here every DDL statement of every telemetry-clickhouse migration and every
 * dashboard, variable and alert query of dashboards-grafana (macros expanded as Grafana would) runs
 * on ClickHouse 26.x through chDB (in-process, .venv-chdb from scripts/install-chdb.sh), over the
 * rows the plugin's own migrate() and exporter wrote there, and answers as an 18.16 server
 * (scripts/clickhouse.sh) does over the same rows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandMacros, generate } from '@trellis/plugin-dashboards-grafana';
import {
  allStatements,
  ClickHouseBlockSink,
  ClickHouseExporter,
  ExportResultCode,
  featuresForVersion,
  FEATURES_18_16,
  LATEST_SCHEMA_VERSION,
  migrate,
  openPipeline,
  probeRollupQuery,
  probeSamplesQuery,
  SchemaNames,
  type ClickHousePipeline,
  type SchemaOptions,
  type ServerFeatures,
  type TelemetryBatch,
} from '@trellis/plugin-telemetry-clickhouse';
import { ChdbEngine, ChdbStatements } from './support/chdb';
import { ClickHouseServer, queryJson } from './support/clickhouse-server';
import { dashboardAlertContext, dashboardDataSet, dashboardLateBlock, dashboardNodeVariable, dashboardPanelContext, DASHBOARD_FIRING } from './support/dashboard-data-set';

jest.setTimeout(300_000);

const DB = 'e2e_current';
const now = Math.floor(Date.now() / 60_000) * 60_000;
const g = generate({ database: DB });

interface Answer {
  columns: string[];
  rows: Array<Record<string, unknown>>;
}

let dir: string;
let server: ClickHouseServer | undefined;
let chdb: ChdbEngine;
let current: ServerFeatures;
let old: ClickHousePipeline;
let chdbExporter: ClickHouseExporter | undefined;
let chdbSink: ClickHouseBlockSink;

function schema(database: string, features: ServerFeatures): SchemaOptions {
  return { database, tablePrefix: 'trellis_', features, rawRetentionDays: 30, rollupRetentionDays: 400 };
}

async function on1816(sql: string): Promise<Answer> {
  return queryJson(old, sql);
}

async function onChdb(sql: string): Promise<Answer> {
  const a = await chdb.run(sql);
  return { columns: a.columns, rows: a.rows };
}

/** Numbers compare as numbers (64-bit integers come quoted, and floats may differ in the last bit); everything else as written. */
function sameValue(a: unknown, b: unknown): boolean {
  const num = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i.test(v) ? Number(v) : null);
  const [x, y] = [num(a), num(b)];
  if (x !== null && y !== null) return x === y || Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y));
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  return a === b;
}

/** The first row where the two answers differ, or null when they hold the same rows in the same order. */
function firstDifference(a: Answer, b: Answer): string | null {
  if (a.rows.length !== b.rows.length) return `${a.rows.length} rows against ${b.rows.length}`;
  for (let i = 0; i < a.rows.length; i++) {
    const [ra, rb] = [a.rows[i]!, b.rows[i]!];
    if (!a.columns.every((c) => sameValue(ra[c], rb[c]))) return `row ${i}: ${JSON.stringify(ra)} against ${JSON.stringify(rb)}`;
  }
  return null;
}

async function exportAll(exporter: { export(b: TelemetryBatch): Promise<{ code: ExportResultCode }>; drain(ms: number): Promise<boolean> }): Promise<void> {
  for (const b of dashboardDataSet(now)) expect((await exporter.export(b)).code).toBe(ExportResultCode.SUCCESS);
  expect(await exporter.drain(60_000)).toBe(true);
  // A block landing 10 minutes after its probe, on its own, as a spool replay would.
  expect((await exporter.export(dashboardLateBlock(now))).code).toBe(ExportResultCode.SUCCESS);
  expect(await exporter.drain(60_000)).toBe(true);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-ch-current-'));
  chdb = await ChdbEngine.start(join(dir, 'chdb'));
  current = featuresForVersion(chdb.version);

  // 18.16, through the plugin's own pipeline.
  server = await ClickHouseServer.start(dir);
  old = await openPipeline({ url: server.url, database: DB, spoolDir: join(dir, 'spool-1816'), batchMaxMs: 50, requestTimeoutMs: 10_000 });
  await exportAll(old.exporter);

  // 26.x, through the same migrate() and exporter, with the settings the plugin picks for it (async inserts).
  const statements = new ChdbStatements(chdb);
  const o = schema(DB, current);
  const migrated = await migrate(statements, o);
  expect(migrated).toEqual({ applied: [1, 2, 3, 4, 5, 6], version: LATEST_SCHEMA_VERSION });
  chdbSink = new ClickHouseBlockSink(statements, new SchemaNames(o), current, false);
  chdbExporter = new ClickHouseExporter({ sink: chdbSink, spoolDir: join(dir, 'spool-chdb'), spoolMaxBytes: 64 << 20, batchMaxRows: 10_000, batchMaxMs: 50 });
  await exportAll(chdbExporter);
});

afterAll(async () => {
  await chdbExporter?.shutdown().catch(() => undefined);
  await old?.close().catch(() => undefined);
  await chdb?.close();
  try {
    server?.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('chDB embeds a current ClickHouse, with every optional server feature', () => {
  expect(Number(chdb.version.split('.')[0])).toBeGreaterThanOrEqual(24);
  expect(current).toMatchObject({ lowCardinality: true, ttl: true, asyncInsert: true });
  expect(old.features.version).toMatch(/^18\.16\./);
});

test('every DDL statement of every migration runs on ClickHouse 26.x, as generated for 26.x and for 18.16', async () => {
  const failures: string[] = [];
  for (const [database, features] of [['ddl_current', current], ['ddl_18_16', FEATURES_18_16]] as const) {
    const statements = allStatements(schema(database, features));
    expect(statements.length).toBeGreaterThanOrEqual(30);
    for (const sql of statements) {
      await chdb.run(sql).catch((err: Error) => failures.push(`${database}: ${sql.split('\n')[0]}: ${err.message.split('\n')[0]}`));
    }
    const tables = await onChdb(`SELECT name, engine FROM system.tables WHERE database = '${database}' ORDER BY name`);
    // Nine views up to v5, and v6's ingest-ledger view of relay_stats.
    expect(tables.rows.filter((r) => r.engine === 'MaterializedView').length).toBe(10);
    expect(tables.rows.map((r) => r.name)).toEqual(expect.arrayContaining(['trellis_probe_hist_by_time_1m', 'trellis_probe_hist_by_time_10m', 'trellis_ingest_ledger', 'trellis_schema_migrations']));
    expect(tables.rows.map((r) => r.name)).not.toContain('trellis_probe_hist_1m');
  }
  expect(failures).toEqual([]);
  // The DDL follows the features: LowCardinality and TTL on 26.x, plain String and no TTL for 18.16.
  const col = await onChdb(`SELECT database, type FROM system.columns WHERE table = 'trellis_probe_samples' AND name = 'src' AND database IN ('ddl_current', 'ddl_18_16') ORDER BY database`);
  expect(col.rows).toEqual([
    { database: 'ddl_18_16', type: 'String' },
    { database: 'ddl_current', type: 'LowCardinality(String)' },
  ]);
  const ttl = await onChdb(`SELECT database, position(create_table_query, 'TTL ts') > 0 AS has_ttl FROM system.tables WHERE name = 'trellis_probe_samples' AND database IN ('ddl_current', 'ddl_18_16') ORDER BY database`);
  expect(ttl.rows.map((r) => [r.database, Number(r.has_ttl)])).toEqual([['ddl_18_16', 0], ['ddl_current', 1]]);
});

test('migrate() upgrades a schema v4 holding data to v5 on 26.x, the histogram states moved and answering the same', async () => {
  const statements = new ChdbStatements(chdb);
  const o = schema('upgrade_v4', current);
  expect(await migrate(statements, o, 4)).toEqual({ applied: [1, 2, 3, 4], version: 4 });
  const sink = new ClickHouseBlockSink(statements, new SchemaNames(o), current, false);
  const exporter = new ClickHouseExporter({ sink, spoolDir: join(dir, 'spool-upgrade'), spoolMaxBytes: 64 << 20, batchMaxRows: 10_000, batchMaxMs: 50 });
  try {
    // Schema v4 has no relay_stats (v6): its data is what v4 could hold.
    for (const { relays: _relays, ...b } of dashboardDataSet(now).slice(0, 4)) expect((await exporter.export(b)).code).toBe(ExportResultCode.SUCCESS);
    expect(await exporter.drain(60_000)).toBe(true);
  } finally {
    await exporter.shutdown();
  }
  const q = (table: string) =>
    `SELECT bucket, src, dst, path, quantilesTimingIfMerge(0.5, 0.95, 0.99)(rtt_q) AS q, countMerge(samples) AS n FROM upgrade_v4.${table} GROUP BY bucket, src, dst, path ORDER BY bucket, src, dst, path`;
  const before = await onChdb(q('trellis_probe_hist_10m'));
  // Forty minutes of probes from 20 pairs, in however many 10-minute buckets those minutes touch.
  const buckets = new Set(Array.from({ length: 40 }, (_, m) => Math.floor((now - 2 * 3_600_000 + m * 60_000) / 600_000))).size;
  expect(before.rows.length).toBe(buckets * 20);
  expect(await migrate(statements, o, 5)).toEqual({ applied: [5], version: 5 });
  expect(firstDifference(await onChdb(q('trellis_probe_hist_by_time_10m')), before)).toBeNull();
  const left = await onChdb(`SELECT name FROM system.tables WHERE database = 'upgrade_v4' AND name LIKE 'trellis_probe_hist%' ORDER BY name`);
  expect(left.rows.map((r) => r.name)).toEqual(['trellis_probe_hist_by_time_10m', 'trellis_probe_hist_by_time_10m_mv', 'trellis_probe_hist_by_time_1m', 'trellis_probe_hist_by_time_1m_mv']);
  // Applied versions are recorded once each; a second run applies nothing.
  expect(await migrate(statements, o, 5)).toEqual({ applied: [], version: 5 });
  expect(await migrate(statements, o)).toEqual({ applied: [6], version: 6 });
});

test("the plugin's own reads run on 26.x and answer as on 18.16", async () => {
  const names = new SchemaNames({ database: DB, tablePrefix: 'trellis_' });
  const f = { src: 'n3', dst: 'n1', from: now - 90 * 60_000, to: now - 30 * 60_000 };
  for (const sql of [probeRollupQuery(names, f), probeRollupQuery(names), probeSamplesQuery(names, f)]) {
    const [a, b] = [await onChdb(sql), await on1816(sql)];
    expect(a.columns).toEqual(b.columns);
    expect(a.rows.length).toBeGreaterThan(0);
    expect({ sql, difference: firstDifference(a, b) }).toEqual({ sql, difference: null });
  }
  // The filter keeps exactly the hour asked for, one row per minute, out of two hours of data.
  const rollup = (await onChdb(probeRollupQuery(names, f))).rows;
  expect(rollup.length).toBe(60);
  expect(new Set(rollup.map((r) => r.minute)).size).toBe(60);
  // The replay check asks the ingest ledger whether a block landed.
  const blocks = await onChdb(`SELECT block_id FROM ${DB}.trellis_ingest_ledger LIMIT 1`);
  const signal = new AbortController().signal;
  expect(await chdbSink.has(String(blocks.rows[0]!.block_id), signal)).toBe(true);
  expect(await chdbSink.has('never-inserted', signal)).toBe(false);
});

test('every dashboard panel and variable query runs on 26.x, returns its columns and the rows 18.16 returns', async () => {
  const failures: string[] = [];
  for (const q of g.queries) {
    const ctx = dashboardPanelContext(now);
    const sql = expandMacros(q.sql, { ...ctx, variables: { ...ctx.variables, node: dashboardNodeVariable(q.dashboardUid) } });
    const name = `${q.dashboardUid} / ${q.panel}`;
    let a: Answer;
    try {
      a = await onChdb(sql);
    } catch (err) {
      failures.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    const b = await on1816(sql);
    if (q.columns.length && JSON.stringify(a.columns) !== JSON.stringify(q.columns)) failures.push(`${name}: columns ${a.columns} != ${q.columns}`);
    if (JSON.stringify(a.columns) !== JSON.stringify(b.columns)) failures.push(`${name}: columns ${a.columns} on 26.x, ${b.columns} on 18.16`);
    if (a.rows.length === 0) failures.push(`${name}: no rows`);
    const diff = firstDifference(a, b);
    if (diff) failures.push(`${name}: 26.x and 18.16 differ at ${diff}`);
  }
  expect(g.queries.length).toBeGreaterThanOrEqual(30);
  expect(failures).toEqual([]);
});

/** Alerts whose value counts from the moment a block landed (now() in the ingest ledger), which differs between the two loads. */
const LANDING_TIME_ALERTS = new Set(['trellis-telemetry-stalled', 'trellis-telemetry-lag']);

test('every alert query runs on 26.x with its label columns and value, and fires where 18.16 fires', async () => {
  const failures: string[] = [];
  const firing: Record<string, string[]> = {};
  for (const c of g.conditions) {
    const sql = expandMacros(c.sql, dashboardAlertContext(now, c));
    let a: Answer;
    try {
      a = await onChdb(sql);
    } catch (err) {
      failures.push(`${c.uid}: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    const b = await on1816(sql);
    if (JSON.stringify(a.columns) !== JSON.stringify([...c.labelColumns, 'value'])) failures.push(`${c.uid}: columns ${a.columns}`);
    if (a.rows.length === 0) failures.push(`${c.uid}: no rows`);
    const fires = (x: Answer) => x.rows.filter((r) => Number(r.value) > c.threshold).map((r) => c.labelColumns.map((l) => r[l]).join('/')).sort();
    firing[c.uid] = fires(a);
    if (JSON.stringify(fires(a)) !== JSON.stringify(fires(b))) failures.push(`${c.uid}: fires for ${fires(a)} on 26.x, ${fires(b)} on 18.16`);
    if (!LANDING_TIME_ALERTS.has(c.uid)) {
      // Alert rows carry no ORDER BY: compare them as sets.
      const sorted = (x: Answer) => ({ columns: x.columns, rows: [...x.rows].sort((p, q) => (JSON.stringify(c.labelColumns.map((l) => p[l])) < JSON.stringify(c.labelColumns.map((l) => q[l])) ? -1 : 1)) });
      const diff = firstDifference(sorted(a), sorted(b));
      if (diff) failures.push(`${c.uid}: 26.x and 18.16 differ at ${diff}`);
    }
  }
  expect(failures).toEqual([]);
  expect(firing).toEqual(DASHBOARD_FIRING);
});
