/**
 * schema: DDL for every table the plugin owns, generated from the server's feature set and the
 * cluster option. Design notes (also in README.md):
 * - Raw tables are ReplacingMergeTree with the dedup key inside ORDER BY, so a replayed row
 *   collapses on merge; queries read them with FINAL (see queries.ts).
 * - Sorting keys put what dashboards filter on first and time last; raw tables are partitioned
 *   by day (volume), events and rollups by month.
 * - probe_rollup_1m is fed by a materialized view with quantilesIfState / countState / sumState /
 *   avgIfState into an AggregatingMergeTree; read it with the matching -Merge functions.
 * - ingest_ledger records every insert block id (through a materialized view on each raw table,
 *   so it is written by the same INSERT); the exporter asks it before replaying a block whose
 *   earlier attempt may have landed, so rollups never count a block twice.
 */
import type { ClusterOption } from './config';
import type { TableName } from './rows';
import type { ServerFeatures } from './server-features';

export interface SchemaOptions {
  database: string;
  tablePrefix: string;
  features: ServerFeatures;
  cluster?: ClusterOption;
  rawRetentionDays: number;
  rollupRetentionDays: number;
}

type Engine = 'MergeTree' | 'ReplacingMergeTree' | 'AggregatingMergeTree';

interface TableSpec {
  /** Column name and type; "name" marks a LowCardinality candidate. */
  columns: Array<[string, string]>;
  engine: Engine;
  partitionBy: string;
  orderBy: string;
  /** Distributed sharding key in cluster mode. */
  shardBy: string;
  /** Retention column expression for TTL, with the retention kind. */
  ttl?: { column: string; kind: 'raw' | 'rollup' | 'ledger' };
  /** Rows per primary-key mark, when the default (8192) reads too much for a narrow range. */
  indexGranularity?: number;
}

/** Column type "Name" is a low-cardinality string: LowCardinality(String) where supported. */
const BLOCK_COLS: Array<[string, string]> = [['block_id', 'String']];
const BATCH_COLS: Array<[string, string]> = [
  ['batch_id', 'String'],
  ['row_idx', 'UInt32'],
];
const TIME_COLS: Array<[string, string]> = [
  ['ts', 'DateTime'],
  ['ts_ms', 'UInt64'],
];

export const RAW_TABLE_SPECS: Record<TableName, TableSpec> = {
  probe_samples: {
    columns: [...TIME_COLS, ['src', 'Name'], ['dst', 'Name'], ['path', 'Name'], ['seq', 'UInt64'], ['rtt_us', 'UInt32'], ['lost', 'UInt8'], ['jitter_us', 'UInt32'], ...BLOCK_COLS],
    engine: 'ReplacingMergeTree',
    partitionBy: 'toYYYYMMDD(ts)',
    orderBy: 'src, dst, path, toStartOfMinute(ts), seq, ts',
    shardBy: 'cityHash64(src, dst)',
    ttl: { column: 'ts', kind: 'raw' },
  },
  tunnel_stats: {
    columns: [...TIME_COLS, ['node', 'Name'], ['peer', 'Name'], ['rx_bytes', 'UInt64'], ['tx_bytes', 'UInt64'], ['handshake_age_s', 'Int64'], ...BATCH_COLS, ...BLOCK_COLS],
    engine: 'ReplacingMergeTree',
    partitionBy: 'toYYYYMMDD(ts)',
    orderBy: 'node, peer, ts, batch_id, row_idx',
    shardBy: 'cityHash64(node)',
    ttl: { column: 'ts', kind: 'raw' },
  },
  shaping_stats: {
    columns: [...TIME_COLS, ['node', 'Name'], ['iface', 'Name'], ['class_id', 'Name'], ['bytes', 'UInt64'], ['packets', 'UInt64'], ['drops', 'UInt64'], ['overlimits', 'UInt64'], ['backlog', 'UInt64'], ...BATCH_COLS, ...BLOCK_COLS],
    engine: 'ReplacingMergeTree',
    partitionBy: 'toYYYYMMDD(ts)',
    orderBy: 'node, iface, class_id, ts, batch_id, row_idx',
    shardBy: 'cityHash64(node)',
    ttl: { column: 'ts', kind: 'raw' },
  },
  posture_decisions: {
    columns: [...TIME_COLS, ['node', 'Name'], ['compliant', 'UInt8'], ['reasons', 'Array(String)'], ['policy_version', 'Name'], ...BATCH_COLS, ...BLOCK_COLS],
    engine: 'ReplacingMergeTree',
    partitionBy: 'toYYYYMM(ts)',
    orderBy: 'node, ts, batch_id, row_idx',
    shardBy: 'cityHash64(node)',
    ttl: { column: 'ts', kind: 'rollup' },
  },
  node_events: {
    columns: [...TIME_COLS, ['node', 'Name'], ['kind', 'Name'], ['details', 'String'], ...BATCH_COLS, ...BLOCK_COLS],
    engine: 'ReplacingMergeTree',
    partitionBy: 'toYYYYMM(ts)',
    orderBy: 'node, kind, ts, batch_id, row_idx',
    shardBy: 'cityHash64(node)',
    ttl: { column: 'ts', kind: 'rollup' },
  },
  audit_events: {
    columns: [...TIME_COLS, ['action', 'Name'], ['actor', 'Name'], ['target', 'String'], ['details', 'String'], ...BATCH_COLS, ...BLOCK_COLS],
    engine: 'ReplacingMergeTree',
    partitionBy: 'toYYYYMM(ts)',
    orderBy: 'action, ts, batch_id, row_idx',
    shardBy: 'cityHash64(action)',
  },
  relay_stats: {
    columns: [
      ...TIME_COLS,
      ['node', 'Name'],
      ['port', 'UInt16'],
      ['forwarded_packets', 'UInt64'],
      ['forwarded_bytes', 'UInt64'],
      ['dropped_packets', 'UInt64'],
      ['dropped_not_allowed', 'UInt64'],
      ['nodes', 'UInt32'],
      ['sessions', 'UInt32'],
      ...BATCH_COLS,
      ...BLOCK_COLS,
    ],
    engine: 'ReplacingMergeTree',
    partitionBy: 'toYYYYMMDD(ts)',
    orderBy: 'node, ts, batch_id, row_idx',
    shardBy: 'cityHash64(node)',
    ttl: { column: 'ts', kind: 'raw' },
  },
};

/** The raw tables of schema version 1; later ones come with their own migration (relay_stats: 6). */
const V1_RAW_TABLES: readonly TableName[] = ['probe_samples', 'tunnel_stats', 'shaping_stats', 'posture_decisions', 'node_events', 'audit_events'];

export const ROLLUP_QUANTILES = [0.5, 0.95, 0.99] as const;
const Q = ROLLUP_QUANTILES.join(', ');

export const PROBE_ROLLUP_SPEC: TableSpec = {
  columns: [
    ['minute', 'DateTime'],
    ['src', 'Name'],
    ['dst', 'Name'],
    ['path', 'Name'],
    ['rtt_q', `AggregateFunction(quantilesIf(${Q}), Float64, UInt8)`],
    ['samples', 'AggregateFunction(count)'],
    ['lost_n', 'AggregateFunction(sum, UInt64)'],
    ['jitter_avg', 'AggregateFunction(avgIf, UInt32, UInt8)'],
  ],
  engine: 'AggregatingMergeTree',
  partitionBy: 'toYYYYMM(minute)',
  orderBy: 'src, dst, path, minute',
  shardBy: 'cityHash64(src, dst)',
  ttl: { column: 'minute', kind: 'rollup' },
};

export const LEDGER_SPEC: TableSpec = {
  columns: [
    ['block_id', 'String'],
    ['tbl', 'Name'],
    ['rows', 'UInt64'],
    ['at', 'DateTime'],
  ],
  engine: 'ReplacingMergeTree',
  partitionBy: 'toYYYYMMDD(at)',
  orderBy: 'block_id',
  shardBy: 'cityHash64(block_id)',
  ttl: { column: 'at', kind: 'ledger' },
};

export const MIGRATIONS_TABLE = 'schema_migrations';

/** Names as the plugin sees them: the table to insert into and read from (Distributed in cluster mode). */
export class SchemaNames {
  constructor(private readonly o: Pick<SchemaOptions, 'database' | 'tablePrefix' | 'cluster'>) {}
  /** The readable/insertable table, fully qualified and quoted. */
  table(name: string): string {
    return `${quoteIdent(this.o.database)}.${quoteIdent(this.o.tablePrefix + name)}`;
  }
  /** The table holding data on this server: `<name>_local` in cluster mode. */
  local(name: string): string {
    return `${quoteIdent(this.o.database)}.${quoteIdent(this.localName(name))}`;
  }
  localName(name: string): string {
    return this.o.tablePrefix + name + (this.o.cluster ? '_local' : '');
  }
  get database(): string {
    return quoteIdent(this.o.database);
  }
}

export function quoteIdent(name: string): string {
  return '`' + name.replace(/\\/g, '\\\\').replace(/`/g, '\\`') + '`';
}

export function quoteString(value: string): string {
  return "'" + value.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
}

function onCluster(o: SchemaOptions): string {
  return o.cluster ? ` ON CLUSTER ${quoteIdent(o.cluster.name)}` : '';
}

function columnType(type: string, f: ServerFeatures): string {
  if (type === 'Name') return f.lowCardinality ? 'LowCardinality(String)' : 'String';
  return type;
}

function engineClause(spec: TableSpec, o: SchemaOptions, name: string): string {
  if (o.cluster?.replicated) {
    const zkPath = `/clickhouse/tables/{shard}/${o.database}/${o.tablePrefix}${name}_local`;
    return `Replicated${spec.engine}(${quoteString(zkPath)}, '{replica}')`;
  }
  return `${spec.engine}()`;
}

function retentionDays(kind: 'raw' | 'rollup' | 'ledger', o: SchemaOptions): number {
  if (kind === 'raw') return o.rawRetentionDays;
  if (kind === 'rollup') return o.rollupRetentionDays;
  return 14;
}

/** createTable gives the CREATE TABLE statements for one table: local (+ Distributed in cluster mode). */
export function createTable(name: string, spec: TableSpec, o: SchemaOptions): string[] {
  const n = new SchemaNames(o);
  const cols = spec.columns.map(([c, t]) => `  ${quoteIdent(c)} ${columnType(t, o.features)}`).join(',\n');
  const ttl = spec.ttl && o.features.ttl ? `\nTTL ${spec.ttl.column} + INTERVAL ${retentionDays(spec.ttl.kind, o)} DAY` : '';
  const settings = spec.indexGranularity ? `\nSETTINGS index_granularity = ${spec.indexGranularity}` : '';
  const out = [
    `CREATE TABLE IF NOT EXISTS ${n.local(name)}${onCluster(o)}\n(\n${cols}\n)\nENGINE = ${engineClause(spec, o, name)}\n` +
      `PARTITION BY ${spec.partitionBy}\nORDER BY (${spec.orderBy})${ttl}${settings}`,
  ];
  if (o.cluster) {
    out.push(
      `CREATE TABLE IF NOT EXISTS ${n.table(name)}${onCluster(o)} AS ${n.local(name)}\n` +
        `ENGINE = Distributed(${quoteIdent(o.cluster.name)}, ${quoteIdent(o.database)}, ${quoteIdent(n.localName(name))}, ${spec.shardBy})`,
    );
  }
  return out;
}

export function createDatabase(o: SchemaOptions): string {
  return `CREATE DATABASE IF NOT EXISTS ${quoteIdent(o.database)}${onCluster(o)}`;
}

/** The migrations bookkeeping table: one row per applied version, on every server of a cluster. */
export function createMigrationsTable(o: SchemaOptions): string {
  const n = new SchemaNames({ ...o, cluster: undefined });
  return (
    `CREATE TABLE IF NOT EXISTS ${n.table(MIGRATIONS_TABLE)}${onCluster(o)}\n` +
    `(\n  version UInt32,\n  name String,\n  checksum String,\n  applied_at DateTime\n)\n` +
    `ENGINE = ReplacingMergeTree()\nPARTITION BY tuple()\nORDER BY version`
  );
}

export function rawTables(o: SchemaOptions): string[] {
  return V1_RAW_TABLES.flatMap((t) => createTable(t, RAW_TABLE_SPECS[t], o));
}

/** The one-minute probe rollup: AggregatingMergeTree target plus the materialized view feeding it. */
export function probeRollup(o: SchemaOptions): string[] {
  const n = new SchemaNames(o);
  const mv = `${quoteIdent(o.database)}.${quoteIdent(`${o.tablePrefix}probe_rollup_1m_mv`)}`;
  return [
    ...createTable('probe_rollup_1m', PROBE_ROLLUP_SPEC, o),
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${mv}${onCluster(o)} TO ${n.local('probe_rollup_1m')}\nAS SELECT\n` +
      `  toStartOfMinute(ts) AS minute, src, dst, path,\n` +
      `  quantilesIfState(${Q})(toFloat64(rtt_us), lost = 0) AS rtt_q,\n` +
      `  countState() AS samples,\n` +
      `  sumState(toUInt64(lost)) AS lost_n,\n` +
      `  avgIfState(jitter_us, lost = 0) AS jitter_avg\n` +
      `FROM ${n.local('probe_samples')}\nGROUP BY minute, src, dst, path`,
  ];
}

/**
 * Histogram rollups for dashboards: one-minute and ten-minute tables with quantilesTiming states,
 * each fed by its own materialized view straight from the raw table (18.16 does not chain views
 * off an AggregatingMergeTree target reliably). A quantilesTiming state keeps every value (2 bytes
 * each) up to about 5,670 values and becomes a fixed histogram beyond, so merging thousands of
 * them is cheap, unlike the reservoir states of probe_rollup_1m; the answer does not depend on
 * how the values were split into states. RTT goes in in units of PROBE_HIST_UNIT_US (0.1 ms):
 * exact below 102.4 ms, 1.6 ms steps up to 3 s once a histogram, clamped at 3 s. Dashboards read
 * the 10-minute table for whole 10-minute buckets inside the range and the 1-minute table for the
 * edges (telemetry-sql.ts), so a range keeps its minute granularity. Schema v5 replaces these two
 * tables with the time-sorted PROBE_HIST_BY_TIME_TABLES below.
 */
export const PROBE_HIST_UNIT_US = 100;
/** Bucket length per histogram rollup table, in seconds. */
export const PROBE_HIST_TABLES = { probe_hist_1m: 60, probe_hist_10m: 600 } as const;

export const PROBE_HIST_SPEC: TableSpec = {
    columns: [
      ['bucket', 'DateTime'],
      ['src', 'Name'],
      ['dst', 'Name'],
      ['path', 'Name'],
      ['rtt_q', `AggregateFunction(quantilesTimingIf(${Q}), UInt32, UInt8)`],
      ['samples', 'AggregateFunction(count)'],
      ['lost_n', 'AggregateFunction(sum, UInt64)'],
      ['jitter_avg', 'AggregateFunction(avgIf, UInt32, UInt8)'],
    ],
    engine: 'AggregatingMergeTree',
    partitionBy: 'toYYYYMM(bucket)',
    orderBy: 'src, dst, path, bucket',
    shardBy: 'cityHash64(src, dst)',
  ttl: { column: 'bucket', kind: 'rollup' },
};

function histViewName(o: SchemaOptions, table: string): string {
  return `${quoteIdent(o.database)}.${quoteIdent(`${o.tablePrefix}${table}_mv`)}`;
}

function histView(o: SchemaOptions, table: string, bucketS: number): string {
  const n = new SchemaNames(o);
  return (
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${histViewName(o, table)}${onCluster(o)} TO ${n.local(table)}\nAS SELECT\n` +
    `  toDateTime(intDiv(toUInt32(ts), ${bucketS}) * ${bucketS}) AS bucket, src, dst, path,\n` +
    `  quantilesTimingIfState(${Q})(toUInt32(intDiv(rtt_us, ${PROBE_HIST_UNIT_US})), lost = 0) AS rtt_q,\n` +
    `  countState() AS samples,\n` +
    `  sumState(toUInt64(lost)) AS lost_n,\n` +
    `  avgIfState(jitter_us, lost = 0) AS jitter_avg\n` +
    `FROM ${n.local('probe_samples')}\nGROUP BY bucket, src, dst, path`
  );
}

/** Histogram probe rollups (1 and 10 minutes), each with the materialized view feeding it from probe_samples. */
export function probeHistRollups(o: SchemaOptions): string[] {
  return (Object.entries(PROBE_HIST_TABLES) as Array<[string, number]>).flatMap(([name, bucketS]) => [...createTable(name, PROBE_HIST_SPEC, o), histView(o, name, bucketS)]);
}

/**
 * The histogram rollups again, sorted by time first with 1024-row marks (schema v5). Mesh-wide
 * panels filter on nothing but the time range, and under `src, dst, path, bucket` every mark of
 * the one-minute table holds some minute of the range edges, so a 6 h query decoded all 24 h (and
 * in production all 400 days) of quantile states. Under `bucket, src, dst, path` a range reads
 * only its own marks; a one-node query reads every pair of the range, which is still a few
 * thousand small states. ClickHouse 18.16 does not prune on a key such as toStartOfHour(bucket)
 * from a condition on bucket, so the key starts with bucket itself.
 */
export const PROBE_HIST_BY_TIME_TABLES = { probe_hist_by_time_1m: 60, probe_hist_by_time_10m: 600 } as const;

export const PROBE_HIST_BY_TIME_SPEC: TableSpec = { ...PROBE_HIST_SPEC, orderBy: 'bucket, src, dst, path', indexGranularity: 1024 };

/** The v4 table each time-sorted rollup replaces. */
const HIST_REPLACES: Record<keyof typeof PROBE_HIST_BY_TIME_TABLES, keyof typeof PROBE_HIST_TABLES> = {
  probe_hist_by_time_1m: 'probe_hist_1m',
  probe_hist_by_time_10m: 'probe_hist_10m',
};

/**
 * Schema v5, in an order that neither loses nor doubles a row when ingest waits for the migration
 * (the plugin migrates before its exporter starts): new tables, the v4 views dropped, the new
 * views created. probeHistByTimeBackfill then copies the v4 states.
 */
export function probeHistByTime(o: SchemaOptions): string[] {
  const entries = Object.entries(PROBE_HIST_BY_TIME_TABLES) as Array<[keyof typeof PROBE_HIST_BY_TIME_TABLES, number]>;
  return [
    ...entries.flatMap(([name]) => createTable(name, PROBE_HIST_BY_TIME_SPEC, o)),
    ...entries.map(([name]) => `DROP TABLE IF EXISTS ${histViewName(o, HIST_REPLACES[name])}${onCluster(o)}`),
    ...entries.map(([name, bucketS]) => histView(o, name, bucketS)),
  ];
}

/**
 * The v5 backfill, one step per v4 table, each run only while that table exists: the states are
 * copied as they are (an AggregatingMergeTree merges them like any insert, so the answers stay
 * identical), then the v4 table is dropped. In cluster mode the copy goes through the Distributed
 * tables, which shard by the same key, so one server backfills every shard.
 */
export function probeHistByTimeBackfill(o: SchemaOptions): BackfillStep[] {
  const n = new SchemaNames(o);
  const cols = PROBE_HIST_SPEC.columns.map(([c]) => quoteIdent(c)).join(', ');
  return (Object.keys(PROBE_HIST_BY_TIME_TABLES) as Array<keyof typeof PROBE_HIST_BY_TIME_TABLES>).map((name) => {
    const old = HIST_REPLACES[name];
    // The table read from goes first, so a re-run after a partial drop skips the step instead of copying twice.
    return {
      whileExists: o.tablePrefix + old,
      statements: [
        `INSERT INTO ${n.table(name)} (${cols})\nSELECT ${cols} FROM ${n.table(old)}`,
        `DROP TABLE IF EXISTS ${n.table(old)}${onCluster(o)}`,
        ...(o.cluster ? [`DROP TABLE IF EXISTS ${n.local(old)}${onCluster(o)}`] : []),
      ],
    };
  });
}

/** Statements that move data out of an earlier version's table, run only while it exists (see migrations.ts). */
export interface BackfillStep {
  /** Table name (unquoted, in the plugin's database) whose presence means the step has not run yet. */
  whileExists: string;
  statements: string[];
}

/** The ingest ledger and one materialized view per raw table recording each insert block id. */
export function ingestLedger(o: SchemaOptions): string[] {
  return [...createTable('ingest_ledger', LEDGER_SPEC, o), ...V1_RAW_TABLES.map((t) => ledgerView(o, t))];
}

/** ledgerView records each insert block of raw table t in the ingest ledger. */
function ledgerView(o: SchemaOptions, t: TableName): string {
  const n = new SchemaNames(o);
  return (
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${quoteIdent(o.database)}.${quoteIdent(`${o.tablePrefix}ingest_ledger_${t}_mv`)}${onCluster(o)} ` +
    `TO ${n.local('ingest_ledger')}\nAS SELECT block_id, ${quoteString(t)} AS tbl, count() AS rows, now() AS at\n` +
    `FROM ${n.local(t)}\nGROUP BY block_id`
  );
}

/** relayStats (schema version 6): samples of relay nodes' forwarders, and their ledger view. */
export function relayStats(o: SchemaOptions): string[] {
  return [...createTable('relay_stats', RAW_TABLE_SPECS.relay_stats, o), ledgerView(o, 'relay_stats')];
}
