/**
 * telemetry-clickhouse: the controller's telemetry pipeline into ClickHouse. It owns a versioned
 * schema (raw ReplacingMergeTree tables, one-minute probe rollups, an ingest ledger), adapts its
 * DDL to the server's version and to a cluster, and delivers batches through an exporter that
 * spools to disk while ClickHouse is away.
 */
export { telemetryClickhousePlugin, telemetryClickhousePlugin as default, openPipeline, telemetryExporter } from './plugin';
export { fromAuditEvents, fromCoreBatch, fromNodeEvent } from './core-rows';
export { ClickHouseHistory } from './path-history';
export type { ClickHouseHistoryOptions } from './path-history';
export type { ClickHousePipeline } from './plugin';
export { ClickHouseExporter } from './exporter';
export type { ClickHouseExporterOptions, ExporterStats } from './exporter';
export { InMemoryExporter } from './in-memory-exporter';
export { ExportResultCode } from './export-result';
export type { ExportResult, TelemetryExporter } from './export-result';
export { Batcher } from './batcher';
export type { BatcherOptions } from './batcher';
export { Spool } from './spool';
export type { SpoolOptions, SpoolRecord, SpoolAppendResult } from './spool';
export { ClickHouseBlockSink } from './block-sink';
export type { BlockSink } from './block-sink';
export { ClickHouseConnection } from './connection';
export type { ClickHouseStatements, ConnectionOptions, InsertOptions } from './connection';
export { configSchema, resolveConfig, CONFIG_DEFAULTS, IDENTIFIER_PATTERN } from './config';
export type { ClickHouseConfig, ClusterOption } from './config';
export { featuresForVersion, FEATURES_18_16, FEATURES_CURRENT } from './server-features';
export type { ServerFeatures } from './server-features';
export { allStatements, migrate, MIGRATIONS, LATEST_SCHEMA_VERSION } from './migrations';
export type { Migration, MigrationResult } from './migrations';
export { SchemaNames, createTable, probeRollup, ingestLedger, rawTables, RAW_TABLE_SPECS, ROLLUP_QUANTILES, probeHistRollups, PROBE_HIST_SPEC, PROBE_HIST_TABLES, PROBE_HIST_UNIT_US, probeHistByTime, probeHistByTimeBackfill, PROBE_HIST_BY_TIME_SPEC, PROBE_HIST_BY_TIME_TABLES } from './schema';
export type { BackfillStep, SchemaOptions } from './schema';
export { probeRollupQuery, probeSamplesQuery, toProbeRollupRow } from './queries';
export type { ProbeRollupFilter, ProbeRollupRow } from './queries';
export { toDbRows, TABLES, NODE_EVENT_KINDS } from './rows';
export type { AuditRecord, DbRow, NodeEventKind, NodeEventRecord, PostureRecord, ProbeSample, RowsByTable, ShapingClassStat, TableName, TelemetryBatch, TunnelStat } from './rows';
export { ClickHouseErrorCode, clickhouseErrors } from './errors';
export { systemClock } from './clock';
export type { Clock } from './clock';
