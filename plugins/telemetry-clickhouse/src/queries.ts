/**
 * queries: how to read what the plugin stores. Raw tables are ReplacingMergeTree, so they are read
 * with FINAL (duplicates from a replay or an agent resend collapse at read time even before a
 * merge); the rollup is read with the -Merge form of each state function.
 */
import { quoteString, ROLLUP_QUANTILES, SchemaNames } from './schema';

export interface ProbeRollupFilter {
  src?: string;
  dst?: string;
  path?: string;
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
}

export interface ProbeRollupRow {
  minute: string;
  src: string;
  dst: string;
  path: string;
  rtt_p50_us: number;
  rtt_p95_us: number;
  rtt_p99_us: number;
  samples: number;
  lost: number;
  loss_rate: number;
  jitter_avg_us: number;
}

function where(f: ProbeRollupFilter, timeCol: string): string {
  const c: string[] = [];
  if (f.src !== undefined) c.push(`src = ${quoteString(f.src)}`);
  if (f.dst !== undefined) c.push(`dst = ${quoteString(f.dst)}`);
  if (f.path !== undefined) c.push(`path = ${quoteString(f.path)}`);
  if (f.from !== undefined) c.push(`${timeCol} >= toDateTime(${Math.floor(f.from / 1000)})`);
  if (f.to !== undefined) c.push(`${timeCol} < toDateTime(${Math.floor(f.to / 1000)})`);
  return c.length ? `WHERE ${c.join(' AND ')}` : '';
}

/**
 * probeRollupQuery reads per-minute RTT quantiles, loss rate and jitter per (src, dst, path). No
 * alias reuses a column's name: under the analyzer that is the default since ClickHouse 24.3, WHERE
 * resolves an alias first, so `toString(minute) AS minute` turned the time filter into a String
 * against DateTime comparison (NO_COMMON_TYPE). DateTime reads as the same "YYYY-MM-DD hh:mm:ss" in JSON.
 */
export function probeRollupQuery(names: SchemaNames, f: ProbeRollupFilter = {}): string {
  const q = ROLLUP_QUANTILES.join(', ');
  return (
    `SELECT minute, src, dst, path,\n` +
    `  quantilesIfMerge(${q})(rtt_q) AS rtt_quantiles,\n` +
    `  rtt_quantiles[1] AS rtt_p50_us, rtt_quantiles[2] AS rtt_p95_us, rtt_quantiles[3] AS rtt_p99_us,\n` +
    `  countMerge(samples) AS samples_n, sumMerge(lost_n) AS lost_total,\n` +
    `  if(samples_n = 0, 0, lost_total / samples_n) AS loss_rate,\n` +
    `  avgIfMerge(jitter_avg) AS jitter_avg_us\n` +
    `FROM ${names.table('probe_rollup_1m')}\n${where(f, 'minute')}\n` +
    `GROUP BY minute, src, dst, path\nORDER BY src, dst, path, minute`
  );
}

/** probeSamplesQuery reads deduplicated raw probe samples. */
export function probeSamplesQuery(names: SchemaNames, f: ProbeRollupFilter = {}): string {
  return (
    `SELECT ts_ms, src, dst, path, seq, rtt_us, lost, jitter_us\n` +
    `FROM ${names.table('probe_samples')} FINAL\n${where(f, 'ts')}\nORDER BY src, dst, path, seq`
  );
}

/** toProbeRollupRow converts one JSONEachRow answer of probeRollupQuery (64-bit ints come quoted). */
export function toProbeRollupRow(r: Record<string, unknown>): ProbeRollupRow {
  return {
    minute: String(r.minute),
    src: String(r.src),
    dst: String(r.dst),
    path: String(r.path),
    rtt_p50_us: Number(r.rtt_p50_us),
    rtt_p95_us: Number(r.rtt_p95_us),
    rtt_p99_us: Number(r.rtt_p99_us),
    samples: Number(r.samples_n),
    lost: Number(r.lost_total),
    loss_rate: Number(r.loss_rate),
    jitter_avg_us: Number(r.jitter_avg_us),
  };
}
