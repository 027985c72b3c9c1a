'use strict';
/**
 * Dashboard query latency over 10 million probe rows in a throwaway ClickHouse (scripts/clickhouse.sh,
 * Debian's 18.16 here). Trellis: every generated panel query that reads probe data, as Grafana would
 * send it (macros expanded for the dashboards' default 6 h range, 60 s buckets or the panel's min
 * interval), over the histogram rollups (1 and 10 minutes). Baseline: the same queries over the raw probe_samples table (FINAL), without the rollup.
 * The rows are generated server-side with INSERT ... SELECT ... FROM numbers(10000000).
 */
const { execFileSync } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { createServer } = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { median, percentile, round } = require('./stats');

const ROOT = join(__dirname, '..');
const ROWS = Number(process.env.BENCH_DASH_ROWS || 10_000_000);
const NODES = 20;
const SPAN_S = 86_400;
const ROUNDS = Number(process.env.BENCH_DASH_ROUNDS || 20);
const BASELINE_ROUNDS = Number(process.env.BENCH_DASH_BASELINE_ROUNDS || 5);
const DB = 'bench_dash';

function freePort() {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

async function timeQuery(conn, sql, rounds) {
  const ms = [];
  for (let i = 0; i < rounds + 1; i++) {
    const t0 = process.hrtime.bigint();
    const rs = await conn.client.query({ query: sql, format: 'JSONEachRow' });
    await rs.json();
    if (i > 0) ms.push(Number(process.hrtime.bigint() - t0) / 1e6); // the first run warms caches
  }
  return { p50Ms: round(median(ms)), p95Ms: round(percentile(ms, 95)) };
}

async function run() {
  const ch = require(join(ROOT, 'plugins/telemetry-clickhouse/dist/index.js'));
  const dg = require(join(ROOT, 'plugins/dashboards-grafana/dist/index.js'));
  const dir = mkdtempSync(join(tmpdir(), 'trellis-bench-dash-'));
  const script = join(ROOT, 'scripts/clickhouse.sh');
  const http = await freePort();
  const tcp = await freePort();
  execFileSync('bash', [script, 'start', join(dir, 'server'), String(http), String(tcp)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const conn = new ch.ClickHouseConnection({ url: `http://127.0.0.1:${http}`, username: 'default', password: '', requestTimeoutMs: 600_000 });
  try {
    const features = await conn.detectFeatures();
    const opts = { database: DB, tablePrefix: 'trellis_', features, rawRetentionDays: 30, rollupRetentionDays: 400 };
    await ch.migrate(conn, opts);
    const names = new ch.SchemaNames(opts);
    const now = Math.floor(Date.now() / 60_000) * 60;
    const start = now - SPAN_S;
    const pairs = NODES * (NODES - 1);
    const perPair = Math.ceil(ROWS / pairs);
    const t0 = Date.now();
    // Pair k = number % pairs: src = k / (NODES-1), dst skips src; samples of a pair spread evenly over 24 h.
    await conn.command(
      `INSERT INTO ${names.table('probe_samples')} (ts, ts_ms, src, dst, path, seq, rtt_us, lost, jitter_us, block_id)\n` +
        `SELECT t, toUInt64(toUInt32(t)) * 1000, concat('n', toString(s)), concat('n', toString(if(j >= s, j + 1, j))), if((s + j) % 7 = 0, 'relay-r1', 'direct'),\n` +
        `  number, toUInt32(if(lost = 1, 0, 5000 + h % 20000 + s * 1000)), lost, toUInt32(intHash32(number) % 5000), 'bench'\n` +
        `FROM (SELECT number, intDiv(number % ${pairs}, ${NODES - 1}) AS s, number % ${NODES - 1} AS j, cityHash64(number) AS h, toUInt8(h % 100 < 1) AS lost,\n` +
        `  toDateTime(${start} + intDiv(intDiv(number, ${pairs}) * ${SPAN_S}, ${perPair})) AS t FROM numbers(${ROWS}))`,
      'generate probe rows',
    );
    const insertS = (Date.now() - t0) / 1000;
    for (const t of ['probe_rollup_1m', 'probe_hist_by_time_1m', 'probe_hist_by_time_10m']) await conn.command(`OPTIMIZE TABLE ${names.table(t)} FINAL`, 'merge rollup').catch(() => undefined);
    const counted = await conn.queryRows(`SELECT count() AS n FROM ${names.table('probe_samples')}`, 'count');
    const rollupRows = await conn.queryRows(`SELECT count() AS n FROM ${names.table('probe_rollup_1m')}`, 'count');

    const ctx = {
      from: (now - 6 * 3600) * 1000,
      to: now * 1000,
      intervalMs: 60_000,
      variables: { node: Array.from({ length: NODES }, (_, i) => `n${i}`), peer: ['n1', 'n2', 'n3', 'n4'], path: ['direct', 'relay-r1'] },
    };
    const single = { ...ctx, variables: { ...ctx.variables, node: 'n0' } };
    const probePanel = (q) => /probe_(rollup_1m|hist_by_time_1m|samples)/.test(q.sql) && !q.panel.startsWith('variable');
    const trellis = dg.generate({ database: DB }).queries.filter(probePanel);
    const baseline = dg.generate({ database: DB, rawProbes: true }).queries.filter(probePanel);
    const queries = [];
    for (let i = 0; i < trellis.length; i++) {
      const q = trellis[i];
      const base = q.dashboardUid === 'trellis-node-detail' ? single : ctx;
      // Grafana raises $__interval to the panel's min interval (mesh-wide series: 10 min).
      const c = { ...base, intervalMs: Math.max(base.intervalMs, q.minIntervalMs || 0) };
      process.stderr.write(`bench: ${q.dashboardUid} / ${q.panel}\n`);
      queries.push({
        query: `${q.dashboardUid} / ${q.panel}`,
        trellis: await timeQuery(conn, dg.expandMacros(q.sql, c), ROUNDS),
        baseline: await timeQuery(conn, dg.expandMacros(baseline[i].sql, c), BASELINE_ROUNDS),
      });
    }
    const worst = (k, f) => Math.max(...queries.map((q) => q[k][f]));
    const tP95 = worst('trellis', 'p95Ms');
    const bP95 = worst('baseline', 'p95Ms');
    return {
      name: 'dashboard-queries',
      clickhouse: features.version,
      probeRows: Number(counted[0].n),
      rollupRows: Number(rollupRows[0].n),
      insertSeconds: round(insertS, 1),
      range: 'last 6 h of 24 h, 60 s buckets (10 min on mesh-wide series: panel min interval)',
      rounds: { trellis: ROUNDS, baseline: BASELINE_ROUNDS },
      queries,
      trellis: { p50Ms: worst('trellis', 'p50Ms'), p95Ms: tP95, what: 'slowest query, over the histogram rollups' },
      baseline: { p50Ms: worst('baseline', 'p50Ms'), p95Ms: bP95, what: 'slowest query, same SQL over raw probe_samples FINAL' },
      ratio: round(bP95 / tP95, 2),
      ratioMeaning: 'baseline p95 / trellis p95 of the slowest query (higher is better for trellis)',
      goal: 'every dashboard query p95 < 100 ms',
      met: tP95 < 100,
    };
  } finally {
    await conn.close();
    try {
      execFileSync('bash', [script, 'stop', join(dir, 'server')], { stdio: 'inherit' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

module.exports = { run };
if (require.main === module) run().then((r) => console.log(JSON.stringify(r, null, 2)), (e) => { console.error(e); process.exit(1); });
