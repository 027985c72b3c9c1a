#!/usr/bin/env node
'use strict';
/**
 * Probe rows per second into ClickHouse, all in one run against one throwaway server on loopback,
 * each measured RUNS times (default 3, interleaved) and reported as medians:
 * - plugin:   the telemetry-clickhouse exporter (validation, batching, TabSeparated blocks into
 *             ReplacingMergeTree + rollup view + ledger view), fed 500-row batches like agents send;
 * - baseline: plain `INSERT … FORMAT JSONEachRow` blocks of the same size through @clickhouse/client
 *             into a plain MergeTree table (what a naive exporter would do);
 * - ceilings: plain `FORMAT TabSeparated` blocks into that plain table (the fastest text format,
 *             no views), and pre-encoded TabSeparated blocks straight into the plugin's schema (the
 *             server-side cost of its views and ledger, with no exporter in front).
 * Run after `npx tsc -b plugins/telemetry-clickhouse`. ROWS=200000 BLOCK=20000 RUNS=3 to change sizes.
 * `run()` returns a bench/run.js result object; run directly, it prints a table.
 */
const { execFileSync } = require('node:child_process');
const { randomUUID } = require('node:crypto');
const { mkdtempSync, rmSync } = require('node:fs');
const { createServer } = require('node:net');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');
const { Readable } = require('node:stream');
const { median, round } = require('./stats');

const ROWS = Number(process.env.ROWS ?? 200_000);
const BLOCK = Number(process.env.BLOCK ?? 20000); // the plugin's default batchMaxRows
const RUNS = Math.max(1, Number(process.env.RUNS ?? 3));
const BATCH = 500;
const SCRIPT = resolve(__dirname, '../scripts/clickhouse.sh');
const PLAIN_COLS = ['ts', 'ts_ms', 'src', 'dst', 'path', 'seq', 'rtt_us', 'lost', 'jitter_us'];

const plugin = () => require('../plugins/telemetry-clickhouse/dist/index.js');
const tsv = () => require('../plugins/telemetry-clickhouse/dist/tab-separated.js');

const freePort = () =>
  new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });

/** probes gives n ProbeSamples (the exporter's input shape) from seq `from`. */
function probes(from, n, t0) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const seq = from + i;
    const lost = seq % 50 === 0;
    out.push({ at: t0 + seq, src: `n${seq % 8}`, dst: `n${(seq + 3) % 8}`, path: seq % 5 ? 'direct' : 'relay-a', seq, rttUs: lost ? null : 800 + (seq % 97) * 13, lost, jitterUs: seq % 31 });
  }
  return out;
}

const plainRow = (p) => ({ ts: Math.floor(p.at / 1000), ts_ms: p.at, src: p.src, dst: p.dst, path: p.path, seq: p.seq, rtt_us: p.rttUs ?? 0, lost: p.lost ? 1 : 0, jitter_us: p.jitterUs });
const seconds = (t) => Number(process.hrtime.bigint() - t) / 1e9;

async function plainTable(c, run) {
  const table = `bench.probes_${run}`;
  await c.command({ query: 'CREATE DATABASE IF NOT EXISTS bench' });
  await c.command({ query: `DROP TABLE IF EXISTS ${table}` });
  await c.command({
    query: `CREATE TABLE ${table} (ts DateTime, ts_ms UInt64, src String, dst String, path String, seq UInt64, rtt_us UInt32, lost UInt8, jitter_us UInt32) ` +
      'ENGINE = MergeTree() PARTITION BY toYYYYMMDD(ts) ORDER BY (src, dst, path, ts, seq)',
  });
  return table;
}

async function countOf(c, table) {
  const [{ n }] = await (await c.query({ query: `SELECT count() AS n FROM ${table}`, format: 'JSONEachRow' })).json();
  if (Number(n) !== ROWS) throw new Error(`${table} holds ${n} rows, expected ${ROWS}`);
}

/** baselineJson: plain JSONEachRow blocks, rows converted per block as a naive exporter would. */
async function baselineJson(c, t0, run) {
  const table = await plainTable(c, `json_${run}`);
  const started = process.hrtime.bigint();
  for (let i = 0; i < ROWS; i += BLOCK) {
    await c.insert({ table, values: probes(i, Math.min(BLOCK, ROWS - i), t0).map(plainRow), format: 'JSONEachRow' });
  }
  const s = seconds(started);
  await countOf(c, table);
  return ROWS / s;
}

/** ceilingTsvPlain: TabSeparated blocks, encoded in one string each, into the plain table. */
async function ceilingTsvPlain(c, t0, run) {
  const table = await plainTable(c, `tsv_${run}`);
  const started = process.hrtime.bigint();
  for (let i = 0; i < ROWS; i += BLOCK) {
    const body = probes(i, Math.min(BLOCK, ROWS - i), t0).map((p) => PLAIN_COLS.map((k) => plainRow(p)[k]).join('\t')).join('\n') + '\n';
    await c.insert({ table, values: Readable.from([Buffer.from(body)], { objectMode: false }), format: 'TabSeparated', columns: PLAIN_COLS });
  }
  const s = seconds(started);
  await countOf(c, table);
  return ROWS / s;
}

/** ceilingSchema: the plugin's own TabSeparated blocks straight into its schema (views, ledger), no exporter. */
async function ceilingSchema(url, dir, t0, run) {
  const { openPipeline, toDbRows } = plugin();
  const { encodeBlock, tableColumns } = tsv();
  const p = await openPipeline({ url, database: `bench_schema_${run}`, spoolDir: join(dir, `spool-schema-${run}`) });
  try {
    const table = p.names.table('probe_samples');
    const started = process.hrtime.bigint();
    for (let i = 0; i < ROWS; i += BLOCK) {
      const rows = toDbRows({ probes: probes(i, Math.min(BLOCK, ROWS - i), t0) }).probe_samples;
      await p.connection.insertTabSeparated(table, tableColumns('probe_samples'), encodeBlock('probe_samples', rows, randomUUID()));
    }
    const s = seconds(started);
    await countOf(p.connection.client, table);
    return ROWS / s;
  } finally {
    await p.close();
  }
}

/** pluginIngest: 500-row batches through exporter.export(), drained; yields to I/O as a busy controller would. */
async function pluginIngest(url, dir, t0, run) {
  const p = await plugin().openPipeline({ url, database: `bench_plugin_${run}`, spoolDir: join(dir, `spool-${run}`), batchMaxRows: BLOCK, batchMaxMs: 200 });
  try {
    let exportMs = 0;
    const started = process.hrtime.bigint();
    for (let i = 0; i < ROWS; i += BATCH) {
      const t = process.hrtime.bigint();
      const r = await p.exporter.export({ probes: probes(i, Math.min(BATCH, ROWS - i), t0) });
      exportMs = Math.max(exportMs, Number(process.hrtime.bigint() - t) / 1e6);
      if (r.code !== 0) throw r.error;
      if (i % (BLOCK * 2) === 0) await new Promise((res) => setImmediate(res));
    }
    if (!(await p.exporter.drain(120_000))) throw new Error('plugin did not drain');
    const s = seconds(started);
    await countOf(p.connection.client, `${p.names.table('probe_samples')} FINAL`);
    return { rate: ROWS / s, exportMs, stats: p.exporter.stats() };
  } finally {
    await p.close();
  }
}

/** withServer starts a throwaway ClickHouse on free loopback ports for fn and stops it after. */
async function withServer(fn) {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-bench-ch-'));
  const http = await freePort();
  const tcp = await freePort();
  execFileSync('bash', [SCRIPT, 'start', join(dir, 'server'), String(http), String(tcp)], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    return await fn(`http://127.0.0.1:${http}`, dir);
  } finally {
    execFileSync('bash', [SCRIPT, 'stop', join(dir, 'server')], { stdio: 'inherit' });
    rmSync(dir, { recursive: true, force: true });
  }
}

/** measure runs every variant RUNS times, interleaved so load on the machine hits each alike. */
async function measure(url, dir, pluginRun = pluginIngest) {
  const { createClient } = require('@clickhouse/client');
  const c = createClient({ url, request_timeout: 60_000 });
  const t0 = Date.UTC(2024, 0, 1);
  const s = { plugin: [], json: [], tsvPlain: [], schema: [], exportMs: [], spooled: 0, dropped: 0, duplicatesSkipped: 0 };
  try {
    for (let run = 0; run < RUNS; run++) {
      s.json.push(await baselineJson(c, t0, run));
      const p = await pluginRun(url, dir, t0, run);
      s.plugin.push(p.rate);
      s.exportMs.push(p.exportMs ?? 0);
      s.spooled += p.stats.spooled;
      s.dropped += p.stats.dropped;
      s.duplicatesSkipped += p.stats.duplicatesSkipped;
      s.tsvPlain.push(await ceilingTsvPlain(c, t0, run));
      s.schema.push(await ceilingSchema(url, dir, t0, run));
    }
  } finally {
    await c.close();
  }
  return s;
}

function result(name, what, s) {
  const plug = median(s.plugin);
  const json = median(s.json);
  const r = (v) => v.map(Math.round);
  return {
    name,
    what,
    trellis: { rowsPerS: Math.round(plug), runs: r(s.plugin), spooled: s.spooled, dropped: s.dropped, duplicatesSkipped: s.duplicatesSkipped },
    baseline: { what: `plain INSERT FORMAT JSONEachRow, blocks of ${BLOCK}, plain MergeTree (median of ${RUNS})`, rowsPerS: Math.round(json), runs: r(s.json) },
    ceilings: {
      plainTabSeparatedRowsPerS: Math.round(median(s.tsvPlain)),
      plainTabSeparatedRuns: r(s.tsvPlain),
      pluginSchemaTabSeparatedRowsPerS: Math.round(median(s.schema)),
      pluginSchemaTabSeparatedRuns: r(s.schema),
    },
    ratio: round(plug / json, 2),
    ratioMeaning: 'plugin rows/s / plain JSONEachRow rows/s, medians (higher is better for trellis)',
    goal: '>= 100000 rows/s',
    met: plug >= 100_000,
  };
}

async function run() {
  return withServer(async (url, dir) =>
    result('clickhouse-ingest', `${ROWS} probe rows in ${BATCH}-row batches through exporter.export(), blocks of ${BLOCK}, ${RUNS} runs`, await measure(url, dir)),
  );
}

module.exports = { run, withServer, measure, result, ROWS, BLOCK, RUNS };

if (require.main === module) {
  run().then(
    (r) => {
      const f = (v) => Math.round(v).toLocaleString('en').padStart(9);
      console.log(`clickhouse-ingest: ${ROWS} probe rows, blocks of ${BLOCK}, medians of ${RUNS} runs (rows/s)`);
      console.log(`  plugin    exporter (+views, ledger)      : ${f(r.trellis.rowsPerS)}   runs ${r.trellis.runs.join(', ')}`);
      console.log(`  baseline  plain JSONEachRow              : ${f(r.baseline.rowsPerS)}   runs ${r.baseline.runs.join(', ')}`);
      console.log(`  ceiling   plain TabSeparated             : ${f(r.ceilings.plainTabSeparatedRowsPerS)}   runs ${r.ceilings.plainTabSeparatedRuns.join(', ')}`);
      console.log(`  ceiling   TabSeparated into plugin schema: ${f(r.ceilings.pluginSchemaTabSeparatedRowsPerS)}   runs ${r.ceilings.pluginSchemaTabSeparatedRuns.join(', ')}`);
      console.log(`  ratio     plugin / baseline              : ${r.ratio}    (spooled ${r.trellis.spooled}, dropped ${r.trellis.dropped}, duplicatesSkipped ${r.trellis.duplicatesSkipped})`);
      console.log(JSON.stringify(r));
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
