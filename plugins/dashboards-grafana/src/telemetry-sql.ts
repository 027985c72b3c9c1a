/**
 * TelemetrySql: every SQL text the dashboards and alert rules run, over the telemetry-clickhouse
 * schema. Probe panels read the one-minute rollup (AggregatingMergeTree, -Merge functions); other
 * tables are ReplacingMergeTree and are read with FINAL, as that plugin's README asks. Everything
 * runs on ClickHouse 18.16 and current releases: no toStartOfInterval (buckets use $__interval_s),
 * no WITH FILL, no multi-table JOIN, no LowCardinality-specific functions.
 * `rawProbes: true` builds the same probe queries over the raw probe_samples table instead of the
 * rollup (FINAL, quantiles computed from samples): the benchmark's baseline.
 */
import { PROBE_HIST_UNIT_US, ROLLUP_QUANTILES, SchemaNames } from '@trellis/plugin-telemetry-clickhouse';
import type { AlertThresholds } from './thresholds';

/** quoteString makes a ClickHouse string literal (the same escaping telemetry-clickhouse uses). */
function quoteString(value: string): string {
  return "'" + value.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
}

export interface TelemetrySqlOptions {
  database: string;
  tablePrefix: string;
  rawProbes?: boolean;
}

/** A SELECT list over probe data, aggregated per group, in either source. */
interface ProbeAgg {
  from: string;
  timeCol: string;
  p50: string;
  p95: string;
  n: string;
  lost: string;
  jitter: string;
}

/** MESH_SERIES_PATHS is how many of the worst paths the mesh-wide time series draw. */
export const MESH_SERIES_PATHS = 10;

export class TelemetrySql {
  readonly names: SchemaNames;
  private readonly raw: boolean;

  constructor(o: TelemetrySqlOptions) {
    this.names = new SchemaNames({ database: o.database, tablePrefix: o.tablePrefix });
    this.raw = o.rawProbes ?? false;
  }

  private t(name: string): string {
    return this.names.table(name);
  }

  /** Probe aggregates; RTT and jitter are over received probes only, in both sources. */
  private probe(): ProbeAgg {
    if (this.raw) {
      return {
        from: `${this.t('probe_samples')} FINAL`,
        timeCol: 'ts',
        p50: 'quantileIf(0.5)(toFloat64(rtt_us), lost = 0)',
        p95: 'quantileIf(0.95)(toFloat64(rtt_us), lost = 0)',
        n: 'count()',
        lost: 'sum(toUInt64(lost))',
        jitter: 'avgIf(jitter_us, lost = 0)',
      };
    }
    const q = ROLLUP_QUANTILES.join(', ');
    const i50 = ROLLUP_QUANTILES.indexOf(0.5) + 1;
    const i95 = ROLLUP_QUANTILES.indexOf(0.95) + 1;
    return {
      from: this.t('probe_rollup_1m'),
      timeCol: 'minute',
      p50: `quantilesIfMerge(${q})(rtt_q)[${i50}]`,
      p95: `quantilesIfMerge(${q})(rtt_q)[${i95}]`,
      n: 'countMerge(samples)',
      lost: 'sumMerge(lost_n)',
      jitter: 'avgIfMerge(jitter_avg)',
    };
  }

  /**
   * Probe aggregates for panels, over the time-sorted histogram rollups (schema v5): whole
   * 10-minute buckets inside the range come from probe_hist_by_time_10m, the minutes at either
   * edge from probe_hist_by_time_1m, so the result covers exactly the minutes the one-minute
   * rollup would. Both tables sort by bucket first, so each side reads only the marks of its own
   * minutes. Bucketed series use the 10-minute table only when $__interval_s is a multiple of 600
   * (Grafana's "10m" min interval on the mesh-wide panels), else every bucket would mix two
   * granularities. `where` filters both.
   */
  private panelProbe(where: string, bucketed: boolean): ProbeAgg {
    if (this.raw) {
      const p = this.probe();
      return { ...p, from: `${p.from}\nWHERE $__timeFilter(${p.timeCol})${where ? ` AND ${where}` : ''}` };
    }
    const q = ROLLUP_QUANTILES.join(', ');
    const i50 = ROLLUP_QUANTILES.indexOf(0.5) + 1;
    const i95 = ROLLUP_QUANTILES.indexOf(0.95) + 1;
    const m0 = 'toDateTime(intDiv(toUInt32($__fromTime) + 599, 600) * 600)';
    const full = `greatest(${m0}, toDateTime(intDiv(toUInt32($__toTime) + 60, 600) * 600))`;
    const m1 = bucketed ? `if($__interval_s % 600 = 0, ${full}, ${m0})` : full;
    const cols = 'bucket, src, dst, path, rtt_q, samples, lost_n, jitter_avg';
    // PREWHERE on time: only the granules holding range rows get their quantile states read.
    const w = where ? ` WHERE ${where}` : '';
    const from =
      `(\n  SELECT ${cols} FROM ${this.t('probe_hist_by_time_1m')}\n  PREWHERE $__timeFilter(bucket) AND (bucket < ${m0} OR bucket >= ${m1})${w}\n` +
      `  UNION ALL\n  SELECT ${cols} FROM ${this.t('probe_hist_by_time_10m')}\n  PREWHERE bucket >= ${m0} AND bucket < ${m1}${w}\n)`;
    return {
      from,
      timeCol: 'bucket',
      p50: `quantilesTimingIfMerge(${q})(rtt_q)[${i50}] * ${PROBE_HIST_UNIT_US}`,
      p95: `quantilesTimingIfMerge(${q})(rtt_q)[${i95}] * ${PROBE_HIST_UNIT_US}`,
      n: 'countMerge(samples)',
      lost: 'sumMerge(lost_n)',
      jitter: 'avgIfMerge(jitter_avg)',
    };
  }

  private bucket(col: string): string {
    return `toDateTime(intDiv(toUInt32(${col}), $__interval_s) * $__interval_s)`;
  }

  // ---- template variables ----

  /** Node names seen in events or as probe sources. */
  nodesVariable(): string {
    const p = this.probe();
    return (
      `SELECT DISTINCT name FROM (\n` +
      `  SELECT node AS name FROM ${this.t('node_events')} WHERE $__timeFilter(ts)\n` +
      `  UNION ALL SELECT src AS name FROM ${p.from} WHERE $__timeFilter(${p.timeCol})\n` +
      `  UNION ALL SELECT node AS name FROM ${this.t('tunnel_stats')} WHERE $__timeFilter(ts)\n` +
      `) ORDER BY name`
    );
  }

  /** Peers of ${node}: probe destinations and tunnel peers. */
  peersVariable(): string {
    const p = this.probe();
    return (
      `SELECT DISTINCT name FROM (\n` +
      `  SELECT dst AS name FROM ${p.from} WHERE src = '\${node}' AND $__timeFilter(${p.timeCol})\n` +
      `  UNION ALL SELECT peer AS name FROM ${this.t('tunnel_stats')} WHERE node = '\${node}' AND $__timeFilter(ts)\n` +
      `) ORDER BY name`
    );
  }

  pathsVariable(): string {
    const p = this.probe();
    return `SELECT DISTINCT path FROM ${p.from} WHERE $__timeFilter(${p.timeCol}) ORDER BY path`;
  }

  classesVariable(): string {
    return `SELECT DISTINCT class_id FROM ${this.t('shaping_stats')} WHERE node = '\${node}' AND $__timeFilter(ts) ORDER BY class_id`;
  }

  actionsVariable(): string {
    return `SELECT DISTINCT action FROM ${this.t('audit_events')} WHERE $__timeFilter(ts) ORDER BY action`;
  }

  // ---- mesh overview ----

  /** Nodes whose latest lifecycle event up to the end of the range says they are up. */
  nodesOnline(): string {
    return (
      `SELECT countIf(state IN ('join', 'online')) AS nodes_online, countIf(state NOT IN ('join', 'online')) AS nodes_offline\n` +
      `FROM (\n  SELECT node, argMax(kind, ts) AS state FROM ${this.t('node_events')} FINAL\n` +
      `  WHERE kind IN ('join', 'online', 'offline', 'leave', 'revoke') AND ts <= $__toTime\n  GROUP BY node\n)`
    );
  }

  /** Tunnels whose latest handshake, aged by how old that report is, is within the limit. */
  tunnelsUp(t: AlertThresholds): string {
    return (
      `SELECT countIf(age >= 0 AND age <= ${t.handshakeMaxAgeSeconds}) AS tunnels_up, count() AS tunnels_total\n` +
      `FROM (\n  SELECT node, peer, if(argMax(handshake_age_s, ts) < 0, -1, argMax(handshake_age_s, ts) + (toInt64(toUInt32($__toTime)) - toInt64(toUInt32(max(ts))))) AS age\n` +
      `  FROM ${this.t('tunnel_stats')} FINAL WHERE $__timeFilter(ts)\n  GROUP BY node, peer\n)`
    );
  }

  /** Per path over the range: p50/p95 RTT (ms), loss %, jitter (ms), samples; `where` narrows it. */
  pathSummary(where: string, orderLimit: string): string {
    const p = this.panelProbe(where, false);
    return (
      `SELECT src, dst, path, round(p50 / 1000, 3) AS p50_ms, round(p95 / 1000, 3) AS p95_ms,\n` +
      `  round(100 * lost_sum / n_all, 3) AS loss_pct, round(jitter_us / 1000, 3) AS jitter_ms, n_all AS samples\n` +
      `FROM (\n  SELECT src, dst, path, ${p.p50} AS p50, ${p.p95} AS p95, ${p.n} AS n_all, ${p.lost} AS lost_sum, ${p.jitter} AS jitter_us\n` +
      `  FROM ${p.from}\n  GROUP BY src, dst, path\n)\n${orderLimit}`
    );
  }

  worstPaths(): string {
    // Ties broken by name, so the same ten rows show on every refresh and every server version.
    return this.pathSummary('src IN (${node:singlequote})', 'ORDER BY p95_ms DESC, loss_pct DESC, src, dst, path LIMIT 10');
  }

  private metricValue(metric: 'p95_ms' | 'p50_ms' | 'loss_pct' | 'jitter_ms', p: ProbeAgg): string {
    return {
      p95_ms: `${p.p95} / 1000`,
      p50_ms: `${p.p50} / 1000`,
      loss_pct: `100 * ${p.lost} / ${p.n}`,
      jitter_ms: `${p.jitter} / 1000`,
    }[metric];
  }

  /** One probe metric over time, one series per path (long format: time, series, value). */
  probeSeries(metric: 'p95_ms' | 'p50_ms' | 'loss_pct' | 'jitter_ms', where: string, series: string, keep?: string): string {
    const p = this.panelProbe(where, true);
    const value = this.metricValue(metric, p);
    // `keep` filters once, outside the two-table union: written into each branch, 18.16 ran its
    // subquery once per branch and more (270 ms against 60-110 ms for the mesh p95 series).
    const from = keep === undefined ? p.from : this.raw ? `${p.from} AND ${keep}` : `(\n  SELECT * FROM ${p.from}\n  WHERE ${keep}\n)`;
    // A mesh-wide series has one group per path and bucket (13,680 at 6 h) whose quantile state
    // is finalized on its own; two-level aggregation merges and finalizes those groups on every
    // thread instead of one (about half the CPU time on 18.16, measured by bench/dashboard-queries).
    const settings = this.raw ? '' : '\nSETTINGS group_by_two_level_threshold = 1';
    return (
      `SELECT ${this.bucket(p.timeCol)} AS time, ${series} AS series, ${value} AS ${metric}\n` +
      `FROM ${from}\nGROUP BY time, series\nORDER BY time, series${settings}`
    );
  }

  /**
   * meshSeries draws the MESH_SERIES_PATHS worst paths by the metric over the range, not every
   * path: a 20-node mesh has 380, which no one reads as lines, and the latency matrix and the
   * worst-paths table already show all of them. Ranking first also means only those paths' buckets
   * are finalized (360 quantile states at 6 h instead of 13,680).
   */
  meshSeries(metric: 'p95_ms' | 'loss_pct' | 'jitter_ms'): string {
    const where = 'src IN (${node:singlequote})';
    const p = this.panelProbe(where, false);
    const worst =
      `SELECT src, dst, path FROM (\n  SELECT src, dst, path, ${this.metricValue(metric, p)} AS v FROM ${p.from}\n` +
      `  GROUP BY src, dst, path ORDER BY v DESC, src, dst, path LIMIT ${MESH_SERIES_PATHS}\n)`;
    return this.probeSeries(metric, where, `concat(src, ' -> ', dst, ' (', path, ')')`, `(src, dst, path) IN (${worst})`);
  }

  // ---- latency matrix ----

  matrix(): string {
    return this.pathSummary('path IN (${path:singlequote})', 'ORDER BY src, dst, path');
  }

  // ---- node detail ----

  nodePeerSeries(metric: 'p95_ms' | 'p50_ms' | 'loss_pct' | 'jitter_ms'): string {
    return this.probeSeries(metric, `src = '\${node}' AND dst IN (\${peer:singlequote})`, `concat(dst, ' (', path, ')')`);
  }

  handshakeAge(): string {
    return (
      `SELECT time, series, age AS handshake_age_s\nFROM (\n  SELECT ${this.bucket('ts')} AS time, peer AS series, max(handshake_age_s) AS age\n` +
      `  FROM ${this.t('tunnel_stats')} FINAL\n  WHERE $__timeFilter(ts) AND node = '\${node}' AND peer IN (\${peer:singlequote}) AND handshake_age_s >= 0\n` +
      `  GROUP BY time, series\n)\nORDER BY time, series`
    );
  }

  // ---- traffic and shaping ----

  /**
   * Throughput per peer from cumulative WireGuard counters: growth within each bucket divided by
   * the bucket length (a counter reset inside a bucket reads as 0, never negative).
   */
  peerThroughput(): string {
    return (
      `SELECT time, series, greatest(max_rx - min_rx, 0) * 8 / $__interval_s AS rx_bps, greatest(max_tx - min_tx, 0) * 8 / $__interval_s AS tx_bps\n` +
      `FROM (\n  SELECT ${this.bucket('ts')} AS time, peer AS series, toInt64(max(rx_bytes)) AS max_rx, toInt64(min(rx_bytes)) AS min_rx, toInt64(max(tx_bytes)) AS max_tx, toInt64(min(tx_bytes)) AS min_tx\n` +
      `  FROM ${this.t('tunnel_stats')} FINAL\n  WHERE $__timeFilter(ts) AND node = '\${node}' AND peer IN (\${peer:singlequote})\n  GROUP BY time, series\n)\nORDER BY time, series`
    );
  }

  private classCounterRate(col: 'bytes' | 'drops', alias: string, scale: string): string {
    return (
      `SELECT time, series, greatest(hi - lo, 0)${scale} / $__interval_s AS ${alias}\n` +
      `FROM (\n  SELECT ${this.bucket('ts')} AS time, concat(iface, ' ', class_id) AS series, toInt64(max(${col})) AS hi, toInt64(min(${col})) AS lo\n` +
      `  FROM ${this.t('shaping_stats')} FINAL\n  WHERE $__timeFilter(ts) AND node = '\${node}' AND class_id IN (\${class:singlequote})\n  GROUP BY time, series\n)\nORDER BY time, series`
    );
  }

  classThroughput(): string {
    return this.classCounterRate('bytes', 'bps', ' * 8');
  }

  classDrops(): string {
    return this.classCounterRate('drops', 'drops_per_s', '');
  }

  classBacklog(): string {
    return (
      `SELECT ${this.bucket('ts')} AS time, concat(iface, ' ', class_id) AS series, max(backlog) AS backlog\n` +
      `FROM ${this.t('shaping_stats')} FINAL\nWHERE $__timeFilter(ts) AND node = '\${node}' AND class_id IN (\${class:singlequote})\n` +
      `GROUP BY time, series\nORDER BY time, series`
    );
  }

  // ---- relays ----

  /**
   * Packets each relay node forwarded per second (its forwarder's cumulative counter, growth per
   * bucket; a restart inside a bucket reads as 0).
   */
  relayForwarded(): string {
    return (
      `SELECT time, series, greatest(hi - lo, 0) / $__interval_s AS pps\n` +
      `FROM (\n  SELECT ${this.bucket('ts')} AS time, node AS series, toInt64(max(forwarded_packets)) AS hi, toInt64(min(forwarded_packets)) AS lo\n` +
      `  FROM ${this.t('relay_stats')} FINAL\n  WHERE $__timeFilter(ts)\n  GROUP BY time, series\n)\nORDER BY time, series`
    );
  }

  /**
   * Datagrams each relay node dropped per second, all reasons and of those the pairs it may not
   * serve (the forwarder's cumulative counters, growth per bucket; a restart reads as 0).
   */
  relayDrops(): string {
    return (
      `SELECT time, series, greatest(hi - lo, 0) / $__interval_s AS drops_per_s\n` +
      `FROM (\n  SELECT ${this.bucket('ts')} AS time, node AS series, toInt64(max(dropped_packets)) AS hi, toInt64(min(dropped_packets)) AS lo\n` +
      `  FROM ${this.t('relay_stats')} FINAL\n  WHERE $__timeFilter(ts)\n  GROUP BY time, series\n` +
      `  UNION ALL\n  SELECT ${this.bucket('ts')} AS time, concat(node, ' not allowed') AS series, toInt64(max(dropped_not_allowed)) AS hi, toInt64(min(dropped_not_allowed)) AS lo\n` +
      `  FROM ${this.t('relay_stats')} FINAL\n  WHERE $__timeFilter(ts)\n  GROUP BY time, series\n)\nORDER BY time, series`
    );
  }

  /** Per relay node over the range: forwarded, dropped and refused (pairs it may not serve), and the most nodes and sessions it served. */
  relaysTable(): string {
    return (
      `SELECT node, hi_f - lo_f AS forwarded, hi_d - lo_d AS dropped, hi_n - lo_n AS not_allowed, max_nodes, max_sessions\nFROM (\n` +
      `  SELECT node, toInt64(max(forwarded_packets)) AS hi_f, toInt64(min(forwarded_packets)) AS lo_f, toInt64(max(dropped_packets)) AS hi_d, toInt64(min(dropped_packets)) AS lo_d,\n` +
      `    toInt64(max(dropped_not_allowed)) AS hi_n, toInt64(min(dropped_not_allowed)) AS lo_n, max(nodes) AS max_nodes, max(sessions) AS max_sessions\n` +
      `  FROM ${this.t('relay_stats')} FINAL\n  WHERE $__timeFilter(ts)\n  GROUP BY node\n)\nORDER BY forwarded DESC, node\nLIMIT 20`
    );
  }

  /** Drops per node and class over the range, largest first. */
  dropsTable(): string {
    return (
      `SELECT node, iface, class_id, hi_d - lo_d AS drops, hi_o - lo_o AS overlimits\nFROM (\n` +
      `  SELECT node, iface, class_id, toInt64(max(drops)) AS hi_d, toInt64(min(drops)) AS lo_d, toInt64(max(overlimits)) AS hi_o, toInt64(min(overlimits)) AS lo_o\n` +
      `  FROM ${this.t('shaping_stats')} FINAL\n  WHERE $__timeFilter(ts)\n  GROUP BY node, iface, class_id\n)\nORDER BY drops DESC, node, iface, class_id\nLIMIT 20`
    );
  }

  // ---- posture and access ----

  /** The latest posture decision per node up to the end of the range. */
  private latestPosture(): string {
    return (
      `SELECT node, argMax(compliant, ts) AS last_compliant, argMax(reasons, ts) AS last_reasons, argMax(policy_version, ts) AS last_policy, max(ts) AS decided_at\n` +
      `  FROM ${this.t('posture_decisions')} FINAL WHERE ts <= $__toTime AND node IN (\${node:singlequote}) GROUP BY node`
    );
  }

  compliance(): string {
    return `SELECT countIf(last_compliant = 1) AS compliant_nodes, countIf(last_compliant = 0) AS non_compliant_nodes\nFROM (\n  ${this.latestPosture()}\n)`;
  }

  nonCompliant(): string {
    return (
      `SELECT node, arrayStringConcat(last_reasons, ', ') AS reasons, last_policy AS policy_version, decided_at\nFROM (\n  ${this.latestPosture()}\n)\n` +
      `WHERE last_compliant = 0\nORDER BY node`
    );
  }

  postureSeries(): string {
    return (
      `SELECT ${this.bucket('ts')} AS time, if(compliant = 1, 'compliant', 'non-compliant') AS series, uniqExact(node) AS nodes\n` +
      `FROM ${this.t('posture_decisions')} FINAL\nWHERE $__timeFilter(ts) AND node IN (\${node:singlequote})\nGROUP BY time, series\nORDER BY time, series`
    );
  }

  quarantines(): string {
    return (
      `SELECT ts AS time, node, details\nFROM ${this.t('node_events')} FINAL\n` +
      `WHERE $__timeFilter(ts) AND kind = 'quarantine' AND node IN (\${node:singlequote})\nORDER BY ts DESC\nLIMIT 200`
    );
  }

  /** Refused access: failed authentications and denials recorded in the audit log. */
  denials(): string {
    return (
      `SELECT ts AS time, action, actor, target, details\nFROM ${this.t('audit_events')} FINAL\n` +
      `WHERE $__timeFilter(ts) AND (action LIKE '%deny%' OR action LIKE '%denied%' OR action LIKE 'auth.failure%' OR action LIKE '%.refused')\nORDER BY ts DESC\nLIMIT 200`
    );
  }

  // ---- audit ----

  auditEvents(): string {
    return (
      `SELECT ts AS time, action, actor, target, details\nFROM ${this.t('audit_events')} FINAL\n` +
      `WHERE $__timeFilter(ts) AND action IN (\${action:singlequote})\nORDER BY ts DESC\nLIMIT 1000`
    );
  }

  /** Route decisions, gateway failovers and clients' exit node switches (route.approved|rejected, route.primary.moved, node.routes.advertised, conn.exit.switched). */
  routeEvents(): string {
    return (
      `SELECT ts AS time, action, actor, target, details\nFROM ${this.t('audit_events')} FINAL\n` +
      `WHERE $__timeFilter(ts) AND (action LIKE 'route.%' OR action IN ('node.routes.advertised', 'conn.exit.switched'))\nORDER BY ts DESC\nLIMIT 500`
    );
  }

  /**
   * Path and relay switches agents reported as connection events (audit conn.path.switched and
   * conn.relay.switched: the endpoint WireGuard uses for a peer moved, between relays or between a
   * relay and direct), newest first.
   */
  pathSwitches(): string {
    const d = (k: string) => `visitParamExtractString(details, '${k}')`;
    return (
      `SELECT ts AS time, ${d('name')} AS node, ${d('peer')} AS peer, substring(action, 6) AS event, ${d('from')} AS from_path, ${d('to')} AS to_path\n` +
      `FROM ${this.t('audit_events')} FINAL\nWHERE $__timeFilter(ts) AND action IN ('conn.path.switched', 'conn.relay.switched')\nORDER BY ts DESC, node, peer\nLIMIT 200`
    );
  }

  /** Gateway failovers per bucket (route.primary.moved in the audit log). */
  routeFailovers(): string {
    return (
      `SELECT ${this.bucket('ts')} AS time, count() AS failovers\nFROM ${this.t('audit_events')} FINAL\n` +
      `WHERE $__timeFilter(ts) AND action = 'route.primary.moved'\nGROUP BY time\nORDER BY time`
    );
  }

  nodeEvents(): string {
    return `SELECT ts AS time, node, kind, details\nFROM ${this.t('node_events')} FINAL\nWHERE $__timeFilter(ts)\nORDER BY ts DESC\nLIMIT 1000`;
  }

  auditRate(): string {
    return (
      `SELECT ${this.bucket('ts')} AS time, action AS series, count() AS events\nFROM ${this.t('audit_events')} FINAL\n` +
      `WHERE $__timeFilter(ts) AND action IN (\${action:singlequote})\nGROUP BY time, series\nORDER BY time, series`
    );
  }

  /**
   * Paths and relays: per pair and path, the minutes with probes on it in the range and the last
   * one; relayed paths first (a pair on a relay has a direct path that is broken or much slower).
   */
  pathsInUse(): string {
    const p = this.probe();
    return (
      `SELECT src, dst, path, toUInt64(uniqExact(${p.timeCol})) AS minutes, max(${p.timeCol}) AS last_seen, ${p.p50} / 1000 AS p50_ms\n` +
      `FROM ${p.from}\nWHERE $__timeFilter(${p.timeCol}) AND src IN (\${node:singlequote})\n` +
      `GROUP BY src, dst, path\nORDER BY path = 'direct', minutes DESC, src, dst\nLIMIT 200`
    );
  }

  // ---- threats: failed authentications per source, peers contacted per node ----

  /**
   * Failed authentications as rows of (ts, remote, n): each auth.failure entry is one, and each
   * auth.failure.summary (the controller sums a source's failures past the first few per window)
   * adds the failures it did not write one by one.
   */
  private authFailureRows(): string {
    return (
      `SELECT ts, visitParamExtractString(details, 'remote') AS remote,
` +
      `    if(action = 'auth.failure', toInt64(1), toInt64(visitParamExtractUInt(details, 'count')) - toInt64(visitParamExtractUInt(details, 'auditedOneByOne'))) AS n,
` +
      `    if(action = 'auth.failure.summary', toInt64(visitParamExtractUInt(details, 'rateLimited')), toInt64(0)) AS limited
` +
      `  FROM ${this.t('audit_events')} FINAL
  WHERE $__timeFilter(ts) AND action IN ('auth.failure', 'auth.failure.summary')`
    );
  }

  /** Failed authentications per source address over time (the audit log's failure rows and summaries). */
  authFailuresBySource(): string {
    return (
      `SELECT time, series, failures
FROM (
  SELECT ${this.bucket('ts')} AS time, remote AS series, sum(n) AS failures
  FROM (
  ${this.authFailureRows()}
  )
  GROUP BY time, series
)
` +
      `WHERE failures > 0
ORDER BY time, series`
    );
  }

  /** The sources that failed most: failures, requests refused with 429, first and last seen. */
  topFailingSources(): string {
    return (
      `SELECT remote, sum(n) AS failures, sum(limited) AS rate_limited, min(ts) AS first_seen, max(ts) AS last_seen
FROM (
  ${this.authFailureRows()}
)
` +
      `GROUP BY remote
ORDER BY failures DESC, remote
LIMIT 50`
    );
  }

  /** Connection events agents reported (tunnel up/down, path and relay switches, quarantine), per kind. */
  connectionEvents(): string {
    return (
      `SELECT ${this.bucket('ts')} AS time, substring(action, 6) AS series, count() AS events
FROM ${this.t('audit_events')} FINAL
` +
      `WHERE $__timeFilter(ts) AND startsWith(action, 'conn.')
GROUP BY time, series
ORDER BY time, series`
    );
  }

  /**
   * Live tunnels (a handshake younger than 180 s) per node: in the last `recentS` seconds, and the
   * most in any earlier window of that length within the range. Only nodes seen in both.
   */
  private peerCounts(recentS: number): string {
    return (
      `SELECT node, max(if(recent = 1, peers, 0)) AS peers_now, max(if(recent = 0, peers, 0)) AS peers_usual
FROM (
` +
      `  SELECT node, toUInt8(ts > $__toTime - ${recentS}) AS recent, if(recent = 1, 0, intDiv(toUInt32(ts), ${recentS})) AS slot, uniqExact(peer) AS peers
` +
      `  FROM ${this.t('tunnel_stats')} FINAL
  WHERE $__timeFilter(ts) AND handshake_age_s >= 0 AND handshake_age_s < 180
  GROUP BY node, recent, slot
)
` +
      `GROUP BY node
HAVING max(recent) = 1 AND min(recent) = 0`
    );
  }

  /** Per node: peers with a live tunnel now and the usual most, for the audit dashboard. */
  peersContacted(t: AlertThresholds): string {
    return `SELECT node, peers_now, peers_usual, toInt64(peers_now) - toInt64(peers_usual) AS extra
FROM (
${this.peerCounts(t.peerSpikeWindowSeconds)}
)
ORDER BY extra DESC, node`;
  }

  // ---- alert conditions (one numeric `value` column; string columns become alert labels) ----

  /** Seconds a pair has been relayed since its last minute on the direct path (or the range start). */
  alertRelayed(): string {
    const p = this.probe();
    return (
      `SELECT src, dst, toFloat64(toInt64(toUInt32(last_relayed)) - toInt64(toUInt32(if(direct_n = 0, first_relayed, last_direct))) + 60) AS value\n` +
      `FROM (\n  SELECT src, dst, countIf(path = 'direct') AS direct_n, countIf(path != 'direct') AS relayed_n, maxIf(${p.timeCol}, path = 'direct') AS last_direct,\n` +
      `    minIf(${p.timeCol}, path != 'direct') AS first_relayed, maxIf(${p.timeCol}, path != 'direct') AS last_relayed\n` +
      `  FROM ${p.from}\n  WHERE $__timeFilter(${p.timeCol})\n  GROUP BY src, dst\n)\n` +
      `WHERE relayed_n > 0 AND last_relayed > last_direct\nORDER BY src, dst`
    );
  }

  alertTunnel(): string {
    return (
      `SELECT node, peer, toFloat64(if(last_age < 0, 1000000000, last_age + (toInt64(toUInt32($__toTime)) - toInt64(toUInt32(last_ts))))) AS value\n` +
      `FROM (\n  SELECT node, peer, argMax(handshake_age_s, ts) AS last_age, max(ts) AS last_ts\n` +
      `  FROM ${this.t('tunnel_stats')} FINAL WHERE $__timeFilter(ts)\n  GROUP BY node, peer\n)`
    );
  }

  alertLoss(): string {
    const p = this.probe();
    return (
      `SELECT src, dst, path, toFloat64(100 * ${p.lost} / ${p.n}) AS value\nFROM ${p.from}\n` +
      `WHERE $__timeFilter(${p.timeCol})\nGROUP BY src, dst, path`
    );
  }

  /** p95 RTT over the path's own limit, as a ratio: the rule fires above 1. */
  alertRtt(t: AlertThresholds): string {
    const p = this.probe();
    const entries = Object.entries(t.rttP95PathMs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    // Exact "src->dst:path" entries before "src->dst" ones, as rttLimitMs resolves them.
    const ordered = [...entries.filter(([k]) => k.includes(':')), ...entries.filter(([k]) => !k.includes(':'))];
    const cases = ordered.map(([k, ms]) => {
      const [pair, path] = k.split(':');
      const [src, dst] = pair!.split('->');
      const cond = [`src = ${quoteString(src!)}`, `dst = ${quoteString(dst!)}`, ...(path ? [`path = ${quoteString(path)}`] : [])].join(' AND ');
      return `${cond}, ${ms}`;
    });
    const limit = cases.length ? `multiIf(${cases.join(', ')}, ${t.rttP95DefaultMs})` : String(t.rttP95DefaultMs);
    return (
      `SELECT src, dst, path, toFloat64(p95 / 1000 / ${limit}) AS value\n` +
      `FROM (\n  SELECT src, dst, path, ${p.p95} AS p95 FROM ${p.from}\n  WHERE $__timeFilter(${p.timeCol})\n  GROUP BY src, dst, path\n)\nWHERE isFinite(value)`
    );
  }

  alertJitter(t: AlertThresholds): string {
    const p = this.probe();
    const pats = t.realtimePaths.map((pat) => {
      const [src, dst] = pat.split('->');
      const c = [...(src !== '*' ? [`src = ${quoteString(src!)}`] : []), ...(dst !== '*' ? [`dst = ${quoteString(dst!)}`] : [])];
      return c.length ? `(${c.join(' AND ')})` : '1';
    });
    const realtime = pats.length ? `(${pats.join(' OR ')})` : '0';
    return (
      `SELECT src, dst, path, toFloat64(jitter / 1000) AS value\n` +
      `FROM (\n  SELECT src, dst, path, ${p.jitter} AS jitter FROM ${p.from}\n  WHERE $__timeFilter(${p.timeCol}) AND ${realtime}\n  GROUP BY src, dst, path\n)\nWHERE isFinite(value)`
    );
  }

  alertNodeOffline(): string {
    return (
      `SELECT node, toFloat64(state = 'offline') AS value\nFROM (\n  SELECT node, argMax(kind, ts) AS state FROM ${this.t('node_events')} FINAL\n` +
      `  WHERE kind IN ('join', 'online', 'offline', 'leave', 'revoke') AND ts <= $__toTime\n  GROUP BY node\n)\nWHERE state NOT IN ('leave', 'revoke')`
    );
  }

  /** 1 for a node whose latest posture decision fails or that was quarantined in the window. */
  alertPosture(): string {
    return (
      `SELECT node, toFloat64(max(bad)) AS value\nFROM (\n` +
      `  SELECT node, toUInt8(argMax(compliant, ts) = 0) AS bad FROM ${this.t('posture_decisions')} FINAL WHERE ts <= $__toTime GROUP BY node\n` +
      `  UNION ALL\n  SELECT node, toUInt8(1) AS bad FROM ${this.t('node_events')} FINAL WHERE $__timeFilter(ts) AND kind = 'quarantine'\n)\nGROUP BY node`
    );
  }

  /** Seconds since the last insert block of any telemetry table landed in ClickHouse. */
  alertTelemetryStalled(): string {
    return (
      `SELECT 'clickhouse' AS pipeline, toFloat64(toInt64(toUInt32($__toTime)) - toInt64(toUInt32(max(at)))) AS value\n` +
      `FROM ${this.t('ingest_ledger')}\nWHERE at <= $__toTime`
    );
  }

  /**
   * Delivery lag: how much later than its newest probe a block landed. Spooled blocks replayed
   * after an outage land late, so a growing lag means the spool is filling or draining. Both
   * joined subqueries are named: ClickHouse 20.3 and later refuse an unnamed one
   * (joined_subquery_requires_alias).
   */
  alertTelemetryLag(): string {
    return (
      `SELECT 'probe_samples' AS pipeline, toFloat64(max(toInt64(toUInt32(landed)) - toInt64(toUInt32(newest)))) AS value\n` +
      `FROM (\n  SELECT block_id, max(ts) AS newest FROM ${this.t('probe_samples')} WHERE $__timeFilter(ts) GROUP BY block_id\n) AS probes\n` +
      `ANY INNER JOIN (\n  SELECT block_id, max(at) AS landed FROM ${this.t('ingest_ledger')} WHERE $__timeFilter(at) GROUP BY block_id\n) AS ledger USING block_id`
    );
  }

  /** Datagrams per second a relay node's forwarder dropped over the window (growth of its counter; a restart reads as 0). */
  alertRelayDrops(): string {
    return (
      `SELECT node, toFloat64(greatest(toInt64(max(dropped_packets)) - toInt64(min(dropped_packets)), 0) / greatest(toInt64(toUInt32(max(ts))) - toInt64(toUInt32(min(ts))), 1)) AS value\n` +
      `FROM ${this.t('relay_stats')} FINAL\nWHERE $__timeFilter(ts)\nGROUP BY node`
    );
  }

  /**
   * How long the oldest audit entry after the newest signed checkpoint has waited, s (0 when every
   * entry is signed). An entry waits at most the checkpoint interval while the controller signs.
   */
  alertAuditUnsigned(): string {
    return (
      `SELECT 'audit' AS log, toFloat64(if(count() = 0, 0, toInt64(toUInt32($__toTime)) - toInt64(toUInt32(min(ts))))) AS value\n` +
      `FROM ${this.t('audit_events')} FINAL\n` +
      `WHERE $__timeFilter(ts) AND action != 'audit.checkpoint'\n` +
      `  AND ts > (SELECT max(ts) FROM ${this.t('audit_events')} FINAL WHERE $__timeFilter(ts) AND action = 'audit.checkpoint')`
    );
  }

  /** Failed authentications per source address in the window. */
  alertAuthFailures(): string {
    return `SELECT remote, toFloat64(sum(n)) AS value\nFROM (\n  ${this.authFailureRows()}\n)\nGROUP BY remote`;
  }

  /** Per node: how many more peers it has live tunnels with now than it usually had at most. */
  alertPeerSpike(t: AlertThresholds): string {
    return `SELECT node, toFloat64(toInt64(peers_now) - toInt64(peers_usual)) AS value\nFROM (\n${this.peerCounts(t.peerSpikeWindowSeconds)}\n)`;
  }

  alertShapingDrops(): string {
    return (
      `SELECT node, iface, class_id, toFloat64(greatest(toInt64(max(drops)) - toInt64(min(drops)), 0) / greatest(toInt64(toUInt32(max(ts))) - toInt64(toUInt32(min(ts))), 1)) AS value\n` +
      `FROM ${this.t('shaping_stats')} FINAL\nWHERE $__timeFilter(ts)\nGROUP BY node, iface, class_id`
    );
  }
}
