/**
 * connection: the one place that talks to ClickHouse over HTTP (@clickhouse/client). Every request
 * has a timeout, and failures become TrellisErrors that say whether the URL, the credentials or
 * the query was wrong.
 */
import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { TrellisError } from '@trellis/core/api';
import { clickhouseErrors } from './errors';
import { featuresForVersion, type ServerFeatures } from './server-features';

export interface ConnectionOptions {
  url: string;
  username: string;
  password: string;
  requestTimeoutMs: number;
}

export interface InsertOptions {
  /** ClickHouse refuses a second running query with the same id, so a retry cannot race the first try. */
  queryId?: string;
  settings?: Record<string, string | number>;
  abortSignal?: AbortSignal;
}

/**
 * ClickHouseStatements is what migrations and the block sink send: DDL and inserts, and small
 * reads. ClickHouseConnection is the production one; the suite also runs the same code through
 * chDB (ClickHouse 26.x in-process) behind this interface, to keep current engines covered.
 */
export type ClickHouseStatements = Pick<ClickHouseConnection, 'command' | 'queryRows' | 'insertTabSeparated'>;

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'UND_ERR_SOCKET']);

export class ClickHouseConnection {
  readonly client: ClickHouseClient;

  constructor(private readonly o: ConnectionOptions) {
    this.client = createClient({
      url: o.url,
      username: o.username,
      password: o.password,
      request_timeout: o.requestTimeoutMs,
      max_open_connections: 4,
      compression: { request: false, response: false },
      keep_alive: { enabled: true, idle_socket_ttl: 1500 },
      // Failures are reported through our own errors and logs; the client's console logger only adds noise.
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  /** classify turns any client failure into an error naming what was wrong. */
  classify(err: unknown, what: string): TrellisError {
    const e = err as { code?: string; message?: string; cause?: { code?: string } };
    const msg = String(e?.message ?? err).split('\n')[0].slice(0, 500);
    const code = e?.code ?? e?.cause?.code;
    if (/Wrong password|Unknown user|Authentication failed|AUTHENTICATION_FAILED|REQUIRED_PASSWORD/i.test(msg) || code === '193' || code === '192' || code === '516') {
      return clickhouseErrors.authFailed(this.o.url, this.o.username, msg);
    }
    if ((code && NETWORK_CODES.has(code)) || /timeout|socket hang up|ECONNREFUSED|ENOTFOUND|aborted/i.test(msg)) {
      return clickhouseErrors.unreachable(this.o.url, msg || String(code));
    }
    return clickhouseErrors.queryFailed(what, msg);
  }

  /** detectFeatures asks the server its version; it is also the setup-time connectivity check. */
  async detectFeatures(): Promise<ServerFeatures> {
    const rows = await this.queryRows<{ v: string }>('SELECT version() AS v', 'SELECT version()');
    const v = rows[0]?.v;
    if (typeof v !== 'string') throw clickhouseErrors.queryFailed('SELECT version()', 'no version in the answer');
    return featuresForVersion(v);
  }

  async command(sql: string, what: string, abortSignal?: AbortSignal): Promise<void> {
    try {
      await this.client.command({ query: sql, ...(abortSignal ? { abort_signal: abortSignal } : {}) });
    } catch (err) {
      throw this.classify(err, what);
    }
  }

  async queryRows<T>(sql: string, what: string, abortSignal?: AbortSignal): Promise<T[]> {
    try {
      const rs = await this.client.query({ query: sql, format: 'JSONEachRow', ...(abortSignal ? { abort_signal: abortSignal } : {}) });
      return await rs.json<T>();
    } catch (err) {
      throw this.classify(err, what);
    }
  }

  async insert(table: string, rows: readonly object[], opts: InsertOptions = {}): Promise<void> {
    try {
      await this.client.insert({
        table,
        values: rows as object[],
        format: 'JSONEachRow',
        ...(opts.queryId ? { query_id: opts.queryId } : {}),
        ...(opts.settings ? { clickhouse_settings: opts.settings } : {}),
        ...(opts.abortSignal ? { abort_signal: opts.abortSignal } : {}),
      });
    } catch (err) {
      throw this.classify(err, `INSERT INTO ${table}`);
    }
  }

  /**
   * insertTabSeparated sends an already encoded TabSeparated body (see tab-separated.ts) in one
   * write, so the server parses it at its own pace instead of waiting on per-row encoding here.
   */
  async insertTabSeparated(table: string, columns: readonly string[], body: string | Buffer, opts: InsertOptions = {}): Promise<void> {
    try {
      await this.client.insert({
        table,
        values: Readable.from([typeof body === 'string' ? Buffer.from(body) : body], { objectMode: false }),
        format: 'TabSeparated',
        columns: columns as [string, ...string[]],
        ...(opts.queryId ? { query_id: opts.queryId } : {}),
        ...(opts.settings ? { clickhouse_settings: opts.settings } : {}),
        ...(opts.abortSignal ? { abort_signal: opts.abortSignal } : {}),
      });
    } catch (err) {
      throw this.classify(err, `INSERT INTO ${table}`);
    }
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => undefined);
  }
}
