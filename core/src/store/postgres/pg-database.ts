/**
 * PgDatabase wraps a node-postgres pool: plain reads, and write transactions that hold the
 * store-wide write lock (a transaction-level advisory lock), so that every audited change is
 * serialised across all controllers sharing the database, exactly as SQLite's single writer
 * serialises them in one process. That keeps the audit hash chain linear (each entry's seq and
 * prevHash are read under the lock) and makes the read-check-write steps of enrolment (names,
 * keys, the address cursor) race-free. Changes a transaction makes are announced with
 * pg_notify just before COMMIT, so they reach other controllers only if the transaction commits.
 */
import pg from 'pg';
import { errors } from '../../errors';
import type { StoreChange } from '../store-changes';

/** The advisory lock namespace ('TRLS') and its keys. */
const LOCK_NAMESPACE = 0x54524c53;
export const LOCK_MIGRATE = 1;
export const LOCK_WRITE = 2;

/** The NOTIFY channel of store changes. */
export const CHANGE_CHANNEL = 'trellis_changes';

/** BIGINT (oid 20) and NUMERIC counts as JS numbers: every integer the schema holds is < 2^53 (unix ms, counters). */
const INT8_OID = 20;
const typeParser = (oid: number, format?: string) => {
  if (oid === INT8_OID) return (v: string) => Number(v);
  return (pg.types.getTypeParser as (oid: number, format?: string) => unknown)(oid, format);
};

/** PgQuery is what repositories run SQL through: the pool (outside a transaction) or one transaction. */
export interface PgQuery {
  rows<T>(sql: string, params?: unknown[]): Promise<T[]>;
  row<T>(sql: string, params?: unknown[]): Promise<T | undefined>;
  /** Runs a statement; returns the number of rows it changed. */
  run(sql: string, params?: unknown[]): Promise<number>;
}

/** PgTx is one open transaction; notify queues a change announced at COMMIT. */
export interface PgTx extends PgQuery {
  notify(change: StoreChange): void;
}

function queryOn(client: pg.Pool | pg.PoolClient): PgQuery {
  return {
    rows: async <T>(sql: string, params: unknown[] = []) => (await client.query(sql, params)).rows as T[],
    row: async <T>(sql: string, params: unknown[] = []) => (await client.query(sql, params)).rows[0] as T | undefined,
    run: async (sql: string, params: unknown[] = []) => (await client.query(sql, params)).rowCount ?? 0,
  };
}

export interface PgDatabaseOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  /** Pool size. Default 8. */
  max?: number;
  /** Tags every change this process announces, so it can skip its own. */
  origin: string;
}

/** redactUrl is the URL with its password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/** parsePostgresUrl checks a --store value and throws CONFIG_INVALID naming what is wrong. */
export function parsePostgresUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw errors.configInvalid('--store', `"${redactUrl(url)}" is not a URL; give postgres://user:password@host:5432/database (or a data dir path for SQLite)`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw errors.configInvalid('--store', `"${u.protocol}" is not a store this controller knows; give postgres://user:password@host:5432/database, or leave --store out for SQLite in --data-dir`);
  }
  if (!u.hostname) throw errors.configInvalid('--store', `${redactUrl(url)} names no host; give postgres://user:password@host:5432/database`);
  if (u.port !== '' && !(Number(u.port) >= 1 && Number(u.port) <= 65535)) throw errors.configInvalid('--store', `${redactUrl(url)} has port "${u.port}"; give a port 1-65535`);
  const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (db === '' || db.includes('/')) throw errors.configInvalid('--store', `${redactUrl(url)} names no database; add one, e.g. postgres://trellis@${u.host}/trellis`);
  return u;
}

export class PgDatabase {
  readonly pool: pg.Pool;
  readonly origin: string;
  readonly url: string;
  private readonly plain: PgQuery;

  constructor(opts: PgDatabaseOptions) {
    parsePostgresUrl(opts.url);
    this.url = opts.url;
    this.origin = opts.origin;
    this.pool = new pg.Pool({ connectionString: opts.url, max: opts.max ?? 8, types: { getTypeParser: typeParser } as pg.CustomTypesConfig, application_name: 'trellis-controller' });
    // An idle client that loses its connection emits here; the pool drops it and makes a new one.
    this.pool.on('error', () => undefined);
    this.plain = queryOn(this.pool);
  }

  /** The URL without its password, for messages. */
  get location(): string {
    return redactUrl(this.url);
  }

  get query(): PgQuery {
    return this.plain;
  }

  /** connect checks that the server answers, turning a connection failure into a clear STORE error. */
  async connect(): Promise<void> {
    try {
      await this.pool.query('SELECT 1');
    } catch (err) {
      throw errors.store(`cannot connect to PostgreSQL at ${redactUrl(this.url)} (${describePgError(err)}); check that the server runs, the database exists and the user may log in`);
    }
  }

  /**
   * write runs fn in a transaction holding the store-wide write lock; the changes fn notes are
   * announced just before COMMIT. Any error rolls everything back.
   */
  write<T>(fn: (tx: PgTx) => Promise<T>): Promise<T> {
    return this.transaction(fn, true);
  }

  /** transaction runs fn in a transaction without the write lock (single-table changes that need no ordering). */
  transaction<T>(fn: (tx: PgTx) => Promise<T>, lock = false): Promise<T> {
    return this.withClient(async (client) => {
      const q = queryOn(client);
      const changes: StoreChange[] = [];
      await client.query('BEGIN');
      try {
        if (lock) await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, LOCK_WRITE]);
        const result = await fn({ ...q, notify: (c) => void changes.push(c) });
        for (const c of changes) await client.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, JSON.stringify({ ...c, origin: this.origin, sentAt: Date.now() })]);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** withSessionLock holds a session-level advisory lock around fn (migrations: one controller at a time). */
  async withSessionLock<T>(key: number, fn: (q: PgQuery) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      await client.query('SELECT pg_advisory_lock($1, $2)', [LOCK_NAMESPACE, key]);
      try {
        return await fn(queryOn(client));
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_NAMESPACE, key]).catch(() => undefined);
      }
    });
  }

  /** withClient lends one pooled connection (for statements that must share a session). */
  async withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw errors.store(`cannot connect to PostgreSQL at ${redactUrl(this.url)} (${describePgError(err)})`);
    }
    let broken = false;
    try {
      return await fn(client);
    } catch (err) {
      // A connection-level failure leaves the client unusable; do not hand it out again.
      broken = !(err instanceof pg.DatabaseError) && !(err instanceof Error && 'code' in err && typeof (err as { code: unknown }).code === 'string' && (err as { code: string }).code.startsWith('TRELLIS_'));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** describePgError is a one-line reason for a PostgreSQL or connection error (never the password). */
export function describePgError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return describePgError(err.errors[0]);
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message || String(code);
  }
  return String(err);
}
