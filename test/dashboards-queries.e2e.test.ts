/**
 * Every dashboard panel query, every template-variable query and every alert query, run against a
 * real throwaway ClickHouse 18.16 (scripts/clickhouse.sh) holding the telemetry-clickhouse schema
 * and a realistic data set delivered through that plugin's exporter. Macros and variables are
 * expanded as Grafana and grafana-clickhouse-datasource would, for a real time range.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expandMacros, generate, type AlertCondition, type MacroContext } from '@trellis/plugin-dashboards-grafana';
import type { ClickHousePipeline } from '@trellis/plugin-telemetry-clickhouse';
import { ClickHouseServer, openLoadedPipeline, queryJson } from './support/clickhouse-server';
import { dashboardAlertContext, dashboardDataSet, dashboardLateBlock, dashboardNodeVariable, dashboardPanelContext, DASHBOARD_NODES, DASHBOARD_FIRING } from './support/dashboard-data-set';

jest.setTimeout(120_000);

const DB = 'e2e_dash';

let dir: string;
let server: ClickHouseServer | undefined;
let pipeline: ClickHousePipeline;
const now = Math.floor(Date.now() / 60_000) * 60_000;
const NODES = DASHBOARD_NODES;
const g = generate({ database: DB });

const panelCtx: MacroContext = dashboardPanelContext(now);

const run = (sql: string) => queryJson(pipeline, sql);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-dash-ch-'));
  server = await ClickHouseServer.start(dir);
  // The late block's rows are 10 minutes old when it lands, in a block of its own: what a spool replay looks like.
  pipeline = await openLoadedPipeline(server.url, DB, join(dir, 'spool'), dashboardDataSet(now), [dashboardLateBlock(now)]);
});

afterAll(async () => {
  await pipeline?.close().catch(() => undefined);
  try {
    server?.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the generated dashboards in dashboards/json hold exactly the queries under test', () => {
  const jsonDir = resolve(__dirname, '../dashboards/json');
  type Target = { rawSql?: string; expr?: string };
  const dashboardsInFiles = readdirSync(jsonDir).map((f) => JSON.parse(readFileSync(join(jsonDir, f), 'utf8')));
  const inFiles = dashboardsInFiles.flatMap((d) => {
    const panels = d.panels.flatMap((p: { targets?: Target[] }) => (p.targets ?? []).flatMap((t) => (t.rawSql === undefined ? [] : [t.rawSql])));
    const vars = (d.templating?.list ?? []).map((v: { query: string }) => v.query);
    return [...panels, ...vars].map((sql: string) => sql.replaceAll('`e2e_dash`', '`trellis`'));
  });
  const tested = generate().queries.map((q) => q.sql);
  expect(new Set(inFiles)).toEqual(new Set(tested));
  // The Prometheus panels' PromQL is checked by promtool (dashboard-promql.test.ts) and run in prometheus.e2e.
  const promInFiles = dashboardsInFiles.flatMap((d) => d.panels.flatMap((p: { targets?: Target[] }) => (p.targets ?? []).flatMap((t) => (t.expr === undefined ? [] : [t.expr]))));
  expect(new Set(promInFiles)).toEqual(new Set(generate().promQueries.map((q) => q.expr)));
  expect(g.queries.length).toBeGreaterThanOrEqual(30);
});

test('every dashboard panel and variable query runs on ClickHouse 18.16 and returns its columns', async () => {
  expect(pipeline.features.version).toMatch(/^18\.16\./);
  const failures: string[] = [];
  for (const q of g.queries) {
    // Single-node dashboards look at n1; the multi-node ones at the whole mesh.
    const node = dashboardNodeVariable(q.dashboardUid);
    const sql = expandMacros(q.sql, { ...panelCtx, variables: { ...panelCtx.variables, node } });
    try {
      const { columns, rows } = await run(sql);
      if (q.columns.length && JSON.stringify(columns) !== JSON.stringify(q.columns)) failures.push(`${q.dashboardUid} / ${q.panel}: columns ${columns} != ${q.columns}`);
      if (rows.length === 0) failures.push(`${q.dashboardUid} / ${q.panel}: no rows`);
    } catch (err) {
      failures.push(`${q.dashboardUid} / ${q.panel}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  expect(failures).toEqual([]);
});

test('panel results reflect the data: worst path, loss, matrix cell, posture', async () => {
  const byPanel = (title: string) => expandMacros(g.queries.find((q) => q.panel === title)!.sql, { ...panelCtx, variables: { ...panelCtx.variables, node: NODES } });
  const worst = (await run(byPanel('Worst paths by p95 RTT'))).rows;
  expect([worst[0]!.src, worst[0]!.dst]).toEqual(['n2', 'n4']);
  expect(Number(worst[0]!.p95_ms)).toBeGreaterThan(150);
  const online = (await run(byPanel('Nodes online'))).rows[0]!;
  expect([Number(online.nodes_online), Number(online.nodes_offline)]).toEqual([4, 1]);
  const tunnels = (await run(byPanel('Tunnels up'))).rows[0]!;
  expect([Number(tunnels.tunnels_up), Number(tunnels.tunnels_total)]).toEqual([19, 20]);
  const nc = (await run(byPanel('Non-compliant nodes'))).rows;
  expect(nc.map((r) => [r.node, r.reasons])).toEqual([['n4', 'disk not encrypted, os outdated']]);
});

function alertCtx(c: AlertCondition): MacroContext {
  return dashboardAlertContext(now, c);
}

test('every alert query runs, returns its label columns and value, and fires where the data is bad', async () => {
  const firing: Record<string, string[]> = {};
  for (const c of g.conditions) {
    const { columns, rows } = await run(expandMacros(c.sql, alertCtx(c)));
    expect({ uid: c.uid, columns }).toEqual({ uid: c.uid, columns: [...c.labelColumns, 'value'] });
    expect({ uid: c.uid, rows: rows.length > 0 }).toEqual({ uid: c.uid, rows: true });
    firing[c.uid] = rows.filter((r) => Number(r.value) > c.threshold).map((r) => c.labelColumns.map((l) => r[l]).join('/'));
  }
  expect(firing).toEqual(DASHBOARD_FIRING);
});

/**
 * The panels read 10-minute histogram states inside the range and 1-minute ones at its edges; the
 * answer must be the one a single quantilesTiming over the raw samples of the same minutes gives
 * (same 0.1 ms units), for a range whose ends are neither 10-minute nor minute aligned.
 */
test('probe panels over the rollups equal the same aggregation over the raw samples of their minutes', async () => {
  const ctx: MacroContext = { ...panelCtx, from: now - 2 * 3_600_000 + 3 * 60_000 + 17_000, to: now - 7 * 60_000 - 5_000 };
  const [fromS, toS] = [Math.floor(ctx.from / 1000), Math.floor(ctx.to / 1000)];
  const raw = (groupBy: string, where: string, select: string) =>
    `SELECT ${select}\nFROM ${DB}.trellis_probe_samples FINAL\n` +
    `WHERE toStartOfMinute(ts) >= toDateTime(${fromS}) AND toStartOfMinute(ts) <= toDateTime(${toS}) AND ${where}\nGROUP BY ${groupBy}`;
  const q = 'quantilesTimingIf(0.5, 0.95, 0.99)(toUInt32(intDiv(rtt_us, 100)), lost = 0)';
  const panel = (dashboardUid: string, title: string) => g.queries.find((x) => x.dashboardUid === dashboardUid && x.panel === title)!;

  const matrix = await run(expandMacros(panel('trellis-latency-matrix', 'All paths').sql, ctx));
  const matrixRaw = await run(
    `SELECT src, dst, path, round(p50 / 1000, 3) AS p50_ms, round(p95 / 1000, 3) AS p95_ms, round(100 * lost_sum / n_all, 3) AS loss_pct, round(jitter_us / 1000, 3) AS jitter_ms, n_all AS samples\n` +
      `FROM (\n${raw('src, dst, path', "path IN ('direct', 'relay-r1')", `src, dst, path, ${q}[1] * 100 AS p50, ${q}[2] * 100 AS p95, count() AS n_all, sum(toUInt64(lost)) AS lost_sum, avgIf(jitter_us, lost = 0) AS jitter_us`)}\n)\nORDER BY src, dst, path`,
  );
  expect(matrix.rows.length).toBe(20);
  expect(matrix.rows).toEqual(matrixRaw.rows);

  // Mesh-wide series at Grafana's 10-minute min interval: whole buckets from the 10-minute table, edge buckets from minutes.
  const series = panel('trellis-mesh-overview', 'p95 RTT, 10 worst paths');
  const tenMin = { ...ctx, intervalMs: series.minIntervalMs!, variables: { ...ctx.variables, node: NODES } };
  const bucket = 'toDateTime(intDiv(toUInt32(ts), 600) * 600)';
  const srcIn = `src IN (${NODES.map((x) => `'${x}'`).join(', ')})`;
  // The 10 worst paths by p95 over the whole range (ties by name), then their 10-minute buckets.
  const worstRaw = `SELECT src, dst, path FROM (\n${raw('src, dst, path', srcIn, `src, dst, path, ${q}[2] * 100 / 1000 AS v`)}\n) ORDER BY v DESC, src, dst, path LIMIT 10`;
  const seriesRaw = await run(
    `SELECT time, series, p95_ms FROM (\n${raw('time, series', `${srcIn} AND (src, dst, path) IN (${worstRaw})`, `${bucket} AS time, concat(src, ' -> ', dst, ' (', path, ')') AS series, ${q}[2] * 100 / 1000 AS p95_ms`)}\n)\nORDER BY time, series`,
  );
  const got = await run(expandMacros(series.sql, tenMin));
  expect(new Set(got.rows.map((r) => r.series)).size).toBe(10);
  expect(got.rows.length).toBeGreaterThan(10 * 10);
  expect(got.rows).toEqual(seriesRaw.rows);

  // One node's peers at 60 s buckets: minutes only.
  const nodeCtx = { ...ctx, variables: { ...ctx.variables, node: 'n3', peer: ['n1', 'n2'] } };
  const loss = await run(expandMacros(panel('trellis-node-detail', 'Loss per peer').sql, nodeCtx));
  const lossRaw = await run(
    `SELECT time, series, loss_pct FROM (\n${raw('time, series', "src = 'n3' AND dst IN ('n1', 'n2')", `toStartOfMinute(ts) AS time, concat(dst, ' (', path, ')') AS series, 100 * sum(toUInt64(lost)) / count() AS loss_pct`)}\n)\nORDER BY time, series`,
  );
  expect(loss.rows.length).toBeGreaterThan(200);
  expect(loss.rows).toEqual(lossRaw.rows);
});
