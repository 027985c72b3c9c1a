/**
 * The ClickHouse telemetry pipeline against a real, throwaway ClickHouse (Debian's 18.16) started
 * by scripts/clickhouse.sh on loopback ports: migrations, round trip, an outage with spool replay,
 * the one-minute rollups, and the errors a bad config gives.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { PluginHost } from '../core/src/plugins/plugin-host';
import {
  ClickHouseBlockSink,
  ClickHouseConnection,
  ClickHouseErrorCode,
  ClickHouseExporter,
  FEATURES_18_16,
  SchemaNames,
  ExportResultCode,
  migrate,
  openPipeline,
  probeRollupQuery,
  probeSamplesQuery,
  telemetryClickhousePlugin,
  telemetryExporter,
  toProbeRollupRow,
  type ClickHousePipeline,
  type ProbeSample,
} from '@trellis/plugin-telemetry-clickhouse';
import { ClickHouseServer } from './support/clickhouse-server';
import { freePort } from './support/free-port';

jest.setTimeout(60_000);

let dir: string;
let server: ClickHouseServer | undefined;
let url: string;
const open: ClickHousePipeline[] = [];

const startServer = () => server!.start();
const stopServer = () => server?.stop();

async function pipeline(name: string, over: Record<string, unknown> = {}): Promise<ClickHousePipeline> {
  const p = await openPipeline({ url, database: `e2e_${name}`, spoolDir: join(dir, `spool-${name}`), batchMaxMs: 50, requestTimeoutMs: 3000, ...over });
  open.push(p);
  return p;
}

async function errorOf(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-ch-'));
  server = await ClickHouseServer.start(dir);
  url = server.url;
});

afterAll(async () => {
  for (const p of open) await p.close().catch(() => undefined);
  try {
    stopServer();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const probe = (src: string, dst: string, path: string, seq: number, at: number, rttUs: number | null, jitterUs = 0): ProbeSample => ({
  at,
  src,
  dst,
  path,
  seq,
  rttUs,
  lost: rttUs === null,
  jitterUs,
});

test('migrations apply once and are idempotent', async () => {
  const first = await pipeline('migrate');
  expect(first.features.version).toMatch(/^18\.16\./);
  expect(first.migrations.applied).toEqual([1, 2, 3, 4, 5, 6]);
  const again = await pipeline('migrate', { spoolDir: join(dir, 'spool-migrate-2') });
  expect(again.migrations.applied).toEqual([]);
  const tables = await again.connection.queryRows<{ name: string }>(`SELECT name FROM system.tables WHERE database = 'e2e_migrate' ORDER BY name`, 'tables');
  expect(tables.map((t) => t.name)).toEqual(
    expect.arrayContaining(['trellis_probe_samples', 'trellis_probe_rollup_1m', 'trellis_probe_rollup_1m_mv', 'trellis_probe_hist_by_time_1m', 'trellis_probe_hist_by_time_10m_mv', 'trellis_ingest_ledger', 'trellis_schema_migrations', 'trellis_audit_events']),
  );
  // v5 replaced the v4 histogram tables and their views.
  expect(tables.map((t) => t.name).filter((n) => /probe_hist_1\d?0?m/.test(n))).toEqual([]);
  const versions = await again.connection.queryRows<{ version: number }>('SELECT version FROM e2e_migrate.trellis_schema_migrations FINAL ORDER BY version', 'v');
  expect(versions.map((v) => Number(v.version))).toEqual([1, 2, 3, 4, 5, 6]);
});

test('upgrading v4 to v5 moves the histogram states to the time-sorted tables unchanged, and a re-run copies nothing twice', async () => {
  const conn = new ClickHouseConnection({ url, username: 'default', password: '', requestTimeoutMs: 10_000 });
  try {
    const o = { database: 'e2e_upgrade', tablePrefix: 'trellis_', features: await conn.detectFeatures(), rawRetentionDays: 30, rollupRetentionDays: 400 };
    const n = new SchemaNames(o);
    expect((await migrate(conn, o, 4)).applied).toEqual([1, 2, 3, 4]);
    const t0 = Date.UTC(2024, 4, 1, 12, 0, 0) / 1000;
    // Two inserts, so each v4 table holds several unmerged parts of the same buckets.
    const insert = (from: number, rows: number) =>
      conn.command(
        `INSERT INTO ${n.table('probe_samples')} (ts, ts_ms, src, dst, path, seq, rtt_us, lost, jitter_us, block_id)\n` +
          `SELECT toDateTime(${t0} + number * 7), (${t0} + number * 7) * 1000, concat('u', toString(number % 3)), 'u9', 'direct', number, ` +
          `toUInt32(if(number % 13 = 0, 0, 2000 + (number * 7919) % 150000)), toUInt8(number % 13 = 0), toUInt32(number % 900), 'up' FROM numbers(${from}, ${rows})`,
        'insert probes',
      );
    await insert(0, 3000);
    await insert(3000, 2000);
    const summary = (table: string) =>
      conn.queryRows<Record<string, unknown>>(
        `SELECT toUInt32(bucket) AS b, src, quantilesTimingIfMerge(0.5, 0.95, 0.99)(rtt_q) AS q, countMerge(samples) AS n, sumMerge(lost_n) AS lost, avgIfMerge(jitter_avg) AS jitter\n` +
          `FROM ${n.table(table)} GROUP BY b, src ORDER BY b, src`,
        table,
      );
    const before = { m1: await summary('probe_hist_1m'), m10: await summary('probe_hist_10m') };
    expect(before.m10.reduce((k, r) => k + Number(r.n), 0)).toBe(5000);
    expect((await migrate(conn, o, 5)).applied).toEqual([5]);
    expect(await summary('probe_hist_by_time_1m')).toEqual(before.m1);
    expect(await summary('probe_hist_by_time_10m')).toEqual(before.m10);
    const left = await conn.queryRows<{ name: string }>(`SELECT name FROM system.tables WHERE database = 'e2e_upgrade' AND name LIKE '%probe_hist_1%'`, 'tables');
    expect(left).toEqual([]);
    // New rows reach the v5 tables through their own views.
    await insert(5000, 10);
    expect((await summary('probe_hist_by_time_10m')).reduce((k, r) => k + Number(r.n), 0)).toBe(5010);
    // A migration recorded as not applied (a crash before its record) runs again without copying twice.
    await conn.command(`ALTER TABLE ${n.table('schema_migrations')} DELETE WHERE version = 5`, 'forget v5');
    for (let i = 0; i < 100; i++) {
      const pending = await conn.queryRows<{ n: string }>(`SELECT count() AS n FROM system.mutations WHERE database = 'e2e_upgrade' AND is_done = 0`, 'mutations');
      if (Number(pending[0]!.n) === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await migrate(conn, o, 5)).applied).toEqual([5]);
    expect((await summary('probe_hist_by_time_10m')).reduce((k, r) => k + Number(r.n), 0)).toBe(5010);
    // And on to the latest version.
    expect((await migrate(conn, o)).applied).toEqual([6]);
  } finally {
    await conn.close();
  }
});

test('probe rows round-trip, and a resent batch does not duplicate them', async () => {
  const p = await pipeline('roundtrip');
  const t0 = Date.UTC(2024, 0, 2, 10, 0, 0);
  const probes = [1, 2, 3, 4].map((seq) => probe('n1', 'n2', seq % 2 ? 'direct' : 'relay-a', seq, t0 + seq * 1000, seq === 3 ? null : 1000 * seq, 10 * seq));
  const batch = { batchId: 'rt-1', probes, nodeEvents: [{ at: t0, node: 'n1', kind: 'join' as const }] };
  expect(await p.exporter.export(batch)).toEqual({ code: ExportResultCode.SUCCESS });
  expect(await p.exporter.export(batch)).toEqual({ code: ExportResultCode.SUCCESS });
  expect(await p.exporter.drain(10_000)).toBe(true);
  const rows = await p.connection.queryRows<Record<string, string | number>>(probeSamplesQuery(p.names), 'read');
  expect(rows.map((r) => [r.path, Number(r.seq), Number(r.rtt_us), Number(r.lost), Number(r.jitter_us), Number(r.ts_ms)])).toEqual([
    ['direct', 1, 1000, 0, 10, t0 + 1000],
    ['direct', 3, 0, 1, 30, t0 + 3000],
    ['relay-a', 2, 2000, 0, 20, t0 + 2000],
    ['relay-a', 4, 4000, 0, 40, t0 + 4000],
  ]);
  const events = await p.connection.queryRows<{ n: string }>(`SELECT count() AS n FROM ${p.names.table('node_events')} FINAL`, 'events');
  expect(Number(events[0].n)).toBe(1);
  expect(p.exporter.stats()).toMatchObject({ inserted: 10, spooled: 0, dropped: 0 });
});

test('outage: batches spool while ClickHouse is down and replay in full, without gaps or duplicates', async () => {
  const p = await pipeline('outage', { batchMaxRows: 40, requestTimeoutMs: 1500 });
  const pairs = [
    ['n1', 'n2'],
    ['n2', 'n3'],
    ['n3', 'n1'],
  ];
  const N = 200;
  const t0 = Date.now() - 60_000;
  let seq = 0;
  const send = async (from: number, to: number) => {
    for (let s = from; s <= to; s += 20) {
      const probes = pairs.flatMap(([a, b]) => Array.from({ length: 20 }, (_, i) => probe(a, b, 'direct', s + i, t0 + (s + i) * 100, 500 + ((s + i) % 7) * 10, 5)));
      const started = Date.now();
      const r = await p.exporter.export({ batchId: `out-${seq++}`, probes });
      expect(r.code).toBe(ExportResultCode.SUCCESS);
      expect(Date.now() - started).toBeLessThan(200);
    }
  };
  await send(1, 40);
  await p.exporter.forceFlush();
  stopServer();
  await send(41, 180);
  await p.exporter.forceFlush();
  const during = p.exporter.stats();
  expect(during.spooled).toBeGreaterThan(0);
  expect(during.spoolRows).toBeGreaterThan(0);
  expect(during.state).toBe('replaying');
  startServer();
  await send(181, N);
  expect(await p.exporter.drain(40_000)).toBe(true);
  const s = p.exporter.stats();
  expect(s.dropped).toBe(0);
  expect(s.inserted + s.replayed + s.duplicatesSkipped).toBe(pairs.length * N);
  expect(s.replayed + s.duplicatesSkipped).toBe(s.spooled);
  expect(s.spooled).toBeGreaterThanOrEqual(pairs.length * 140);
  const counts = await p.connection.queryRows<{ src: string; dst: string; n: string; u: string; lo: string; hi: string }>(
    `SELECT src, dst, count() AS n, uniqExact(seq) AS u, min(seq) AS lo, max(seq) AS hi FROM ${p.names.table('probe_samples')} GROUP BY src, dst ORDER BY src`,
    'counts',
  );
  // No FINAL here on purpose: not even an unmerged duplicate may exist.
  expect(counts.map((c) => [c.src, c.dst, Number(c.n), Number(c.u), Number(c.lo), Number(c.hi)])).toEqual(
    pairs.map(([a, b]) => [a, b, N, N, 1, N]).sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
  );
  const rollup = (await p.connection.queryRows<Record<string, unknown>>(probeRollupQuery(p.names), 'rollup')).map(toProbeRollupRow);
  for (const [a, b] of pairs) {
    expect(rollup.filter((r) => r.src === a && r.dst === b).reduce((n, r) => n + r.samples, 0)).toBe(N);
  }
});

function quantile(sorted: number[], level: number): number {
  const h = level * (sorted.length - 1);
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

test('rollups: the materialized view gives the p50/p95/p99, loss rate and jitter computed here', async () => {
  const p = await pipeline('rollup', { batchMaxRows: 500 });
  const minute = Date.UTC(2024, 4, 1, 12, 0, 0);
  const paths = ['direct', 'relay-b'];
  const data: ProbeSample[] = [];
  let x = 12345;
  const rand = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (const [pi, path] of paths.entries()) {
    for (let seq = 1; seq <= 300; seq++) {
      const lost = rand() < (pi === 0 ? 0.05 : 0.2);
      data.push(probe('r1', 'r2', path, seq + pi * 1000, minute + seq * 150, lost ? null : Math.round(1000 + rand() * 9000 * (pi + 1)), lost ? 0 : Math.round(rand() * 800)));
    }
  }
  // Sent in several batches so the view merges several partial states per minute.
  for (let i = 0; i < data.length; i += 70) await p.exporter.export({ probes: data.slice(i, i + 70) });
  expect(await p.exporter.drain(10_000)).toBe(true);
  const got = (await p.connection.queryRows<Record<string, unknown>>(probeRollupQuery(p.names, { src: 'r1' }), 'rollup')).map(toProbeRollupRow);
  const keys = new Set(data.map((d) => `${d.path}|${Math.floor(d.at / 60000)}`));
  expect(got).toHaveLength(keys.size);
  for (const r of got) {
    const minuteMs = Date.parse(r.minute.replace(' ', 'T') + 'Z');
    const rows = data.filter((d) => d.path === r.path && Math.floor(d.at / 60000) * 60000 === minuteMs);
    const ok = rows.filter((d) => !d.lost);
    const rtts = ok.map((d) => d.rttUs as number).sort((a, b) => a - b);
    expect(r.samples).toBe(rows.length);
    expect(r.lost).toBe(rows.length - ok.length);
    expect(r.loss_rate).toBeCloseTo((rows.length - ok.length) / rows.length, 9);
    expect(r.jitter_avg_us).toBeCloseTo(ok.reduce((n, d) => n + d.jitterUs, 0) / ok.length, 6);
    expect(r.rtt_p50_us).toBeCloseTo(quantile(rtts, 0.5), 3);
    expect(r.rtt_p95_us).toBeCloseTo(quantile(rtts, 0.95), 3);
    expect(r.rtt_p99_us).toBeCloseTo(quantile(rtts, 0.99), 3);
  }
  // The histogram rollups (1 and 10 minutes): counts exact; quantiles in 100 µs units (exact below
  // 102.4 ms), nearest rank, so within one rank of the exact quantile, floored to 100 µs.
  for (const [table, bucketMs] of [['probe_hist_by_time_1m', 60_000], ['probe_hist_by_time_10m', 600_000]] as const) {
    const hist = await p.connection.queryRows<Record<string, unknown>>(
      `SELECT toUInt32(bucket) AS b, path, quantilesTimingIfMerge(0.5, 0.95, 0.99)(rtt_q) AS q, countMerge(samples) AS n, sumMerge(lost_n) AS lost, avgIfMerge(jitter_avg) AS jitter\n` +
        `FROM ${p.names.table(table)} WHERE src = 'r1' GROUP BY b, path ORDER BY b, path`,
      table,
    );
    expect(hist).toHaveLength(new Set(data.map((d) => `${d.path}|${Math.floor(d.at / bucketMs)}`)).size);
    for (const h of hist) {
      const rows = data.filter((d) => d.path === h.path && Math.floor(d.at / bucketMs) * bucketMs === Number(h.b) * 1000);
      const ok = rows.filter((d) => !d.lost);
      const rtts = ok.map((d) => d.rttUs as number).sort((a, b) => a - b);
      expect(Number(h.n)).toBe(rows.length);
      expect(Number(h.lost)).toBe(rows.length - ok.length);
      expect(Number(h.jitter)).toBeCloseTo(ok.reduce((n, d) => n + d.jitterUs, 0) / ok.length, 6);
      (h.q as number[]).forEach((units, i) => {
        const idx = [0.5, 0.95, 0.99][i]! * (rtts.length - 1);
        const lo = rtts[Math.max(0, Math.floor(idx) - 1)]!;
        const hi = rtts[Math.min(rtts.length - 1, Math.ceil(idx) + 1)]!;
        expect(units * 100).toBeGreaterThanOrEqual(Math.floor(lo / 100) * 100);
        expect(units * 100).toBeLessThanOrEqual(hi);
      });
    }
  }
});

describe('configuration errors', () => {
  let hang: Server;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    // A server that accepts and never answers: ClickHouse hung.
    hang = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => hang.close(r));
  });

  test('a wrong URL names the URL', async () => {
    const bad = `http://127.0.0.1:${await freePort()}`;
    const e = await errorOf(openPipeline({ url: bad, spoolDir: join(dir, 'spool-bad') }));
    expect(e.code).toBe(ClickHouseErrorCode.UNREACHABLE);
    expect(e.message).toContain(bad);
  });

  test('a hung server fails setup within the request timeout, and export() still returns at once', async () => {
    const hungUrl = `http://127.0.0.1:${(hang.address() as AddressInfo).port}`;
    const started = Date.now();
    const e = await errorOf(openPipeline({ url: hungUrl, spoolDir: join(dir, 'spool-hung'), requestTimeoutMs: 500 }));
    expect(e.code).toBe(ClickHouseErrorCode.UNREACHABLE);
    expect(Date.now() - started).toBeLessThan(5000);

    const conn = new ClickHouseConnection({ url: hungUrl, username: 'default', password: '', requestTimeoutMs: 500 });
    const names = new SchemaNames({ database: 'trellis', tablePrefix: 'trellis_' });
    const exporter = new ClickHouseExporter({
      sink: new ClickHouseBlockSink(conn, names, FEATURES_18_16, false),
      spoolDir: join(dir, 'spool-hung-export'),
      spoolMaxBytes: 1 << 20,
      batchMaxRows: 10,
      batchMaxMs: 20,
    });
    const t = Date.now();
    for (let i = 0; i < 5; i++) {
      const r = await exporter.export({ probes: Array.from({ length: 10 }, (_, k) => probe('h1', 'h2', 'direct', i * 10 + k, t, 100)) });
      expect(r.code).toBe(ExportResultCode.SUCCESS);
    }
    expect(Date.now() - t).toBeLessThan(200);
    const f = Date.now();
    await exporter.forceFlush();
    expect(Date.now() - f).toBeLessThan(3000);
    expect(exporter.stats()).toMatchObject({ spooled: 50, inserted: 0, dropped: 0, state: 'replaying' });
    await exporter.shutdown();
    await conn.close();
  });

  test('bad credentials name the user', async () => {
    const e = await errorOf(openPipeline({ url, username: 'trellis', password: 'wrong', spoolDir: join(dir, 'spool-auth') }));
    expect(e.code).toBe(ClickHouseErrorCode.AUTH_FAILED);
    expect(e.message).toContain('"trellis"');
    const good = await pipeline('auth', { username: 'trellis', password: 'trellis-test' });
    expect(good.migrations.applied).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('a bad table prefix names the field', async () => {
    const e = await errorOf(openPipeline({ url, tablePrefix: 'Trellis-', spoolDir: join(dir, 'spool-prefix') }));
    expect(e.code).toBe(ClickHouseErrorCode.CONFIG_INVALID);
    expect(e.message).toContain('tablePrefix');
  });

  test('through the plugin host: a bad URL disables only this plugin; a good one exposes the exporter', async () => {
    const log = pino({ level: 'silent' });
    const host = new PluginHost('controller', log);
    await host.start([{ plugin: telemetryClickhousePlugin as never, config: { url: `http://127.0.0.1:${await freePort()}`, spoolDir: join(dir, 'spool-host1') } }], {});
    expect(host.names()).toEqual([]);
    expect(telemetryExporter()).toBeNull();
    await expect(
      host.start([{ plugin: telemetryClickhousePlugin as never, config: { url, tablePrefix: 'Bad', spoolDir: join(dir, 'spool-host2') } }], {}),
    ).rejects.toThrow(/tablePrefix/);
    const host2 = new PluginHost('controller', log);
    await host2.start([{ plugin: telemetryClickhousePlugin as never, config: { url, database: 'e2e_host', spoolDir: join(dir, 'spool-host3') } }], {});
    expect(host2.names()).toEqual(['telemetry-clickhouse']);
    expect(telemetryExporter()).not.toBeNull();
    await host2.shutdown();
    expect(telemetryExporter()).toBeNull();
  });
});
