#!/usr/bin/env node
/**
 * Micro-benchmark: probe rows per second through the telemetry-clickhouse exporter (validation,
 * batching, ReplacingMergeTree + rollup view + ledger view) against a baseline of plain
 * `INSERT … FORMAT JSONEachRow` blocks of the same size through @clickhouse/client into a plain
 * MergeTree table. Starts its own throwaway ClickHouse on loopback and stops it at the end.
 * Run after `npx tsc -b plugins/telemetry-clickhouse`. ROWS=200000 BLOCK=5000 to change sizes.
 */
const { execFileSync } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { createServer } = require('node:net');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');
const { createClient } = require('@clickhouse/client');
const { openPipeline } = require('../plugins/telemetry-clickhouse/dist/index.js');

const ROWS = Number(process.env.ROWS ?? 200_000);
const BLOCK = Number(process.env.BLOCK ?? 5000);
const BATCH = 500;
const SCRIPT = resolve(__dirname, '../scripts/clickhouse.sh');

const freePort = () =>
  new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });

function probes(from, n, t0) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const seq = from + i;
    out.push({ at: t0 + seq, src: `n${seq % 8}`, dst: `n${(seq + 3) % 8}`, path: seq % 5 ? 'direct' : 'relay-a', seq, rttUs: 800 + (seq % 97) * 13, lost: seq % 50 === 0, jitterUs: seq % 31 });
  }
  for (const p of out) if (p.lost) p.rttUs = null;
  return out;
}

async function baseline(url, t0) {
  const c = createClient({ url, request_timeout: 30_000 });
  await c.command({ query: 'CREATE DATABASE IF NOT EXISTS bench' });
  await c.command({
    query:
      'CREATE TABLE IF NOT EXISTS bench.probes (ts DateTime, ts_ms UInt64, src String, dst String, path String, seq UInt64, rtt_us UInt32, lost UInt8, jitter_us UInt32) ' +
      'ENGINE = MergeTree() PARTITION BY toYYYYMMDD(ts) ORDER BY (src, dst, path, ts, seq)',
  });
  const started = process.hrtime.bigint();
  for (let i = 0; i < ROWS; i += BLOCK) {
    const values = probes(i, Math.min(BLOCK, ROWS - i), t0).map((p) => ({
      ts: Math.floor(p.at / 1000), ts_ms: p.at, src: p.src, dst: p.dst, path: p.path, seq: p.seq, rtt_us: p.rttUs ?? 0, lost: p.lost ? 1 : 0, jitter_us: p.jitterUs,
    }));
    await c.insert({ table: 'bench.probes', values, format: 'JSONEachRow' });
  }
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  const [{ n }] = await (await c.query({ query: 'SELECT count() AS n FROM bench.probes', format: 'JSONEachRow' })).json();
  await c.close();
  if (Number(n) !== ROWS) throw new Error(`baseline stored ${n} rows, expected ${ROWS}`);
  return ROWS / secs;
}

async function plugin(url, dir, t0) {
  const p = await openPipeline({ url, database: 'bench_plugin', spoolDir: join(dir, 'spool'), batchMaxRows: BLOCK, batchMaxMs: 200 });
  let exportMs = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < ROWS; i += BATCH) {
    const t = process.hrtime.bigint();
    const r = await p.exporter.export({ probes: probes(i, Math.min(BATCH, ROWS - i), t0) });
    exportMs = Math.max(exportMs, Number(process.hrtime.bigint() - t) / 1e6);
    if (r.code !== 0) throw r.error;
    // let the delivery loop run between batches, as a controller serving requests would
    if (i % (BLOCK * 2) === 0) await new Promise((res) => setImmediate(res));
  }
  if (!(await p.exporter.drain(120_000))) throw new Error('plugin did not drain');
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  const stats = p.exporter.stats();
  const [{ n }] = await p.connection.queryRows(`SELECT count() AS n FROM ${p.names.table('probe_samples')}`, 'count');
  await p.close();
  if (Number(n) !== ROWS) throw new Error(`plugin stored ${n} rows, expected ${ROWS}`);
  return { rate: ROWS / secs, exportMs, stats };
}

(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-bench-ch-'));
  const http = await freePort();
  const tcp = await freePort();
  const url = `http://127.0.0.1:${http}`;
  execFileSync('bash', [SCRIPT, 'start', join(dir, 'server'), String(http), String(tcp)], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    const t0 = Date.UTC(2024, 0, 1);
    const base = await baseline(url, t0);
    const plug = await plugin(url, dir, t0);
    console.log(`clickhouse-ingest: ${ROWS} probe rows, blocks of ${BLOCK}`);
    console.log(`  baseline  plain INSERT JSONEachRow : ${Math.round(base).toLocaleString('en')} rows/s`);
    console.log(`  plugin    exporter (+views, ledger): ${Math.round(plug.rate).toLocaleString('en')} rows/s   (slowest export() call ${plug.exportMs.toFixed(1)} ms)`);
    console.log(`  ratio     plugin / baseline        : ${(plug.rate / base).toFixed(2)}`);
    console.log(`  stats     inserted ${plug.stats.inserted}, spooled ${plug.stats.spooled}, dropped ${plug.stats.dropped}`);
  } finally {
    execFileSync('bash', [SCRIPT, 'stop', join(dir, 'server')], { stdio: 'inherit' });
    rmSync(dir, { recursive: true, force: true });
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
