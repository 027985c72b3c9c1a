/**
 * The telemetry-clickhouse error catalogue: one factory per code, each message naming what was
 * wrong and what to do about it.
 */
import { TrellisError } from '@trellis/core/api';

export const ClickHouseErrorCode = {
  CONFIG_INVALID: 'TRELLIS_ERR_CLICKHOUSE_CONFIG_INVALID',
  UNREACHABLE: 'TRELLIS_ERR_CLICKHOUSE_UNREACHABLE',
  AUTH_FAILED: 'TRELLIS_ERR_CLICKHOUSE_AUTH_FAILED',
  QUERY_FAILED: 'TRELLIS_ERR_CLICKHOUSE_QUERY_FAILED',
  MIGRATION_FAILED: 'TRELLIS_ERR_CLICKHOUSE_MIGRATION_FAILED',
  BAD_ROW: 'TRELLIS_ERR_CLICKHOUSE_BAD_ROW',
  SPOOL: 'TRELLIS_ERR_CLICKHOUSE_SPOOL',
  SHUT_DOWN: 'TRELLIS_ERR_CLICKHOUSE_SHUT_DOWN',
} as const;
export type ClickHouseErrorCode = (typeof ClickHouseErrorCode)[keyof typeof ClickHouseErrorCode];

const e = (code: ClickHouseErrorCode, message: string, details?: Record<string, unknown>) => new TrellisError(code, message, details);

export const clickhouseErrors = {
  configInvalid: (field: string, what: string) =>
    e(ClickHouseErrorCode.CONFIG_INVALID, `telemetry-clickhouse config "${field}" is invalid: ${what}`, { field }),
  unreachable: (url: string, why: string) =>
    e(
      ClickHouseErrorCode.UNREACHABLE,
      `ClickHouse at ${url} is unreachable (${why}); check "url" (http://host:8123) and that the server is running`,
      { url },
    ),
  authFailed: (url: string, username: string, why: string) =>
    e(
      ClickHouseErrorCode.AUTH_FAILED,
      `ClickHouse at ${url} refused user "${username}" (${why}); check "username" and "password"`,
      { url, username },
    ),
  queryFailed: (what: string, why: string) => e(ClickHouseErrorCode.QUERY_FAILED, `ClickHouse ${what} failed: ${why}`),
  migrationFailed: (version: number, name: string, why: string) =>
    e(
      ClickHouseErrorCode.MIGRATION_FAILED,
      `schema migration ${version} (${name}) failed: ${why}; fix the cause and restart: applied steps are idempotent`,
      { version },
    ),
  badRow: (table: string, index: number, what: string) =>
    e(ClickHouseErrorCode.BAD_ROW, `telemetry row ${index} of ${table} is invalid: ${what}; the batch was not accepted`, { table, index }),
  spool: (dir: string, what: string) => e(ClickHouseErrorCode.SPOOL, `telemetry spool ${dir}: ${what}`, { dir }),
  shutDown: () => e(ClickHouseErrorCode.SHUT_DOWN, 'the ClickHouse exporter is shut down; it accepts no more batches'),
};
