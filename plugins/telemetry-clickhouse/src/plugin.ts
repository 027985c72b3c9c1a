import { randomUUID } from 'node:crypto';
import { definePlugin, type PluginLogger } from '@trellis/core/api';
import { fromAuditEvents, fromCoreBatch, fromNodeEvent } from './core-rows';
import { ExportResultCode } from './export-result';
import { ClickHouseBlockSink } from './block-sink';
import { resolveConfig, configSchema, type ClickHouseConfig } from './config';
import { ClickHouseConnection } from './connection';
import { ClickHouseExporter } from './exporter';
import { clickhouseLabWiring } from './lab-wiring';
import { ClickHouseHistory } from './path-history';
import { migrate, type MigrationResult } from './migrations';
import { SchemaNames, type SchemaOptions } from './schema';
import type { ServerFeatures } from './server-features';

export interface ClickHousePipeline {
  config: ClickHouseConfig;
  connection: ClickHouseConnection;
  features: ServerFeatures;
  names: SchemaNames;
  migrations: MigrationResult;
  exporter: ClickHouseExporter;
  close(): Promise<void>;
}

/**
 * openPipeline connects, detects the server version, migrates the schema and starts the exporter.
 * Any failure (bad URL, credentials, prefix) rejects with a TrellisError naming it; nothing is
 * left running then. Requests time out after requestTimeoutMs, so it cannot hang.
 */
export async function openPipeline(rawConfig: Record<string, unknown>, log?: PluginLogger): Promise<ClickHousePipeline> {
  const config = resolveConfig(rawConfig);
  const connection = new ClickHouseConnection(config);
  try {
    const features = await connection.detectFeatures();
    const schema: SchemaOptions = {
      database: config.database,
      tablePrefix: config.tablePrefix,
      features,
      ...(config.cluster ? { cluster: config.cluster } : {}),
      rawRetentionDays: config.rawRetentionDays,
      rollupRetentionDays: config.rollupRetentionDays,
    };
    const migrations = await migrate(connection, schema);
    const names = new SchemaNames(schema);
    const exporter = new ClickHouseExporter({
      sink: new ClickHouseBlockSink(connection, names, features, config.cluster !== undefined),
      spoolDir: config.spoolDir,
      spoolMaxBytes: config.spoolMaxBytes,
      batchMaxRows: config.batchMaxRows,
      batchMaxMs: config.batchMaxMs,
      ...(log ? { log } : {}),
    });
    log?.info({ version: features.version, schema: migrations.version, applied: migrations.applied }, 'ClickHouse telemetry pipeline ready');
    return {
      config,
      connection,
      features,
      names,
      migrations,
      exporter,
      async close() {
        await exporter.shutdown();
        await connection.close();
      },
    };
  } catch (err) {
    await connection.close();
    throw err;
  }
}

let current: ClickHousePipeline | null = null;

/** telemetryExporter is the running plugin's exporter, for the controller's telemetry route. */
export function telemetryExporter(): ClickHouseExporter | null {
  return current?.exporter ?? null;
}

export const telemetryClickhousePlugin = definePlugin<Record<string, unknown>>({
  manifest: {
    name: 'telemetry-clickhouse',
    version: '0.1.0',
    apiRange: '^1.0.0',
    sides: ['controller'],
    configSchema: configSchema as unknown as Record<string, unknown>,
  },
  lab: clickhouseLabWiring,
  async setup(ctx) {
    current = await openPipeline(ctx.config, ctx.log);
    const { url, username, password, database, tablePrefix } = current.config;
    ctx.controller?.registerPathHistory?.(new ClickHouseHistory({ url, username, password, database, tablePrefix }));
  },
  /** The controller's telemetry route calls this for every accepted batch; export() only buffers. */
  async onTelemetry(batch) {
    const exporter = current?.exporter;
    if (!exporter) return;
    const result = await exporter.export(fromCoreBatch(batch));
    if (result.code !== ExportResultCode.SUCCESS) throw result.error ?? new Error('ClickHouse exporter refused the batch');
  },
  async onNodeEvent(event) {
    const exporter = current?.exporter;
    const batch = fromNodeEvent(event, randomUUID());
    if (!exporter || !batch) return;
    const result = await exporter.export(batch);
    if (result.code !== ExportResultCode.SUCCESS) throw result.error ?? new Error('ClickHouse exporter refused the node event');
  },
  /** The controller's audit log, as it grows (ClickHouse keeps it for search and the dashboards). */
  async onAuditEvents(events) {
    const exporter = current?.exporter;
    const batch = fromAuditEvents(events);
    if (!exporter || !batch) return;
    const result = await exporter.export(batch);
    if (result.code !== ExportResultCode.SUCCESS) throw result.error ?? new Error('ClickHouse exporter refused the audit entries');
  },
  async shutdown() {
    const p = current;
    current = null;
    await p?.close();
  },
});
