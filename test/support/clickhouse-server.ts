/**
 * A throwaway ClickHouse 18.16 (Debian's clickhouse-server, run by scripts/clickhouse.sh) for one
 * test file, with its data under <dir>/server and on two free loopback ports, and the
 * telemetry-clickhouse pipeline a test delivers its data set through.
 */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { ExportResultCode, openPipeline, type ClickHousePipeline, type TelemetryBatch } from '@trellis/plugin-telemetry-clickhouse';
import { freePort } from './free-port';

const SCRIPT = resolve(__dirname, '../../scripts/clickhouse.sh');

export class ClickHouseServer {
  private constructor(
    private readonly dir: string,
    readonly httpPort: number,
    readonly tcpPort: number,
  ) {}

  /** start runs a server whose files live under dir/server; stop() it before removing dir. A start that fails is stopped. */
  static async start(dir: string): Promise<ClickHouseServer> {
    const server = new ClickHouseServer(dir, await freePort(), await freePort());
    try {
      server.start();
    } catch (err) {
      try {
        server.stop();
      } catch {
        // The start's own error says what went wrong.
      }
      throw err;
    }
    return server;
  }

  /** The HTTP interface. */
  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** start (again, after stop: an outage) on the same ports and data. */
  start(): void {
    execFileSync('bash', [SCRIPT, 'start', join(this.dir, 'server'), String(this.httpPort), String(this.tcpPort)], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 120_000 });
  }

  stop(): void {
    execFileSync('bash', [SCRIPT, 'stop', join(this.dir, 'server')], { stdio: 'inherit', timeout: 60_000 });
  }
}

/**
 * openLoadedPipeline opens telemetry-clickhouse's pipeline on `url` (database `database`, spool in
 * spoolDir) and delivers each set of batches through its exporter, every batch accepted and each
 * set drained before the next (a later set lands as a block of its own).
 */
export async function openLoadedPipeline(url: string, database: string, spoolDir: string, ...sets: TelemetryBatch[][]): Promise<ClickHousePipeline> {
  const pipeline = await openPipeline({ url, database, spoolDir, batchMaxMs: 50, requestTimeoutMs: 10_000 });
  for (const batches of sets) {
    for (const b of batches) expect((await pipeline.exporter.export(b)).code).toBe(ExportResultCode.SUCCESS);
    expect(await pipeline.exporter.drain(30_000)).toBe(true);
  }
  return pipeline;
}

/** queryJson runs one query through the pipeline's client: the columns and the rows it answers. */
export async function queryJson(pipeline: ClickHousePipeline, sql: string): Promise<{ columns: string[]; rows: Array<Record<string, unknown>> }> {
  const rs = await pipeline.connection.client.query({ query: sql, format: 'JSON' });
  const body = (await rs.json()) as { meta: Array<{ name: string }>; data: Array<Record<string, unknown>> };
  return { columns: body.meta.map((m) => m.name), rows: body.data };
}
