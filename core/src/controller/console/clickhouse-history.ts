import type { PluginEntry } from '../../config/runtime-config';

/**
 * One path's per-minute p95 RTT, ms; minute is unix seconds (start of the minute). p95Ms is null
 * for a minute in which every probe was lost: there is no RTT then, and 0 would chart as perfect.
 */
export interface HistorySeries {
  src: string;
  dst: string;
  path: string;
  points: Array<{ minute: number; p95Ms: number | null; lossPercent: number }>;
}

export interface ClickHouseHistoryOptions {
  url: string;
  username: string;
  password: string;
  database: string;
  tablePrefix: string;
  timeoutMs?: number;
}

const IDENT = /^[a-z_][a-z0-9_]*$/;

/**
 * ClickHouseHistory reads the telemetry-clickhouse plugin's one-minute probe rollup over ClickHouse's
 * HTTP interface, for the console's history charts. It takes the plugin's own config entry (same
 * url, credentials, database and prefix), so it needs no second configuration, and it only reads.
 */
export class ClickHouseHistory {
  constructor(private readonly o: ClickHouseHistoryOptions) {
    if (!IDENT.test(o.database) || !IDENT.test(o.tablePrefix)) throw new TypeError('database and tablePrefix must be plain identifiers');
    if (!/^https?:$/.test(new URL(o.url).protocol)) throw new TypeError(`url must be http(s), got ${JSON.stringify(o.url)}`);
  }

  /** fromPluginEntry builds a reader from the controller's telemetry-clickhouse entry, or null when it has none. */
  static fromPluginEntry(entry: PluginEntry | undefined): ClickHouseHistory | null {
    const c = entry?.config as Record<string, unknown> | undefined;
    if (!entry || !entry.enabled || !c || typeof c.url !== 'string') return null;
    const str = (v: unknown, d: string) => (typeof v === 'string' ? v : d);
    try {
      return new ClickHouseHistory({
        url: c.url,
        username: str(c.username, 'default'),
        password: str(c.password, ''),
        database: str(c.database, 'trellis'),
        tablePrefix: str(c.tablePrefix, 'trellis_'),
      });
    } catch {
      return null;
    }
  }

  /** p95RttLastHour is one series per (src, dst, path) over the last `minutes` minutes. */
  async p95RttLastHour(minutes = 60): Promise<HistorySeries[]> {
    const table = `\`${this.o.database}\`.\`${this.o.tablePrefix}probe_rollup_1m\``;
    const sql =
      `SELECT src, dst, path, toUInt32(minute) AS m, quantilesIfMerge(0.5, 0.95, 0.99)(rtt_q)[2] / 1000 AS p95_ms,\n` +
      `  if(countMerge(samples) = 0, 0, 100 * sumMerge(lost_n) / countMerge(samples)) AS loss_pct\n` +
      `FROM ${table}\nWHERE minute >= now() - INTERVAL ${Math.max(1, Math.min(1440, Math.floor(minutes)))} MINUTE\n` +
      `GROUP BY minute, src, dst, path\nORDER BY src, dst, path, minute\nFORMAT JSONEachRow`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.endpoint(), {
        method: 'POST',
        headers: { 'x-clickhouse-user': this.o.username, 'x-clickhouse-key': this.o.password, 'content-type': 'text/plain' },
        body: sql,
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 5000),
      });
      text = await res.text();
    } catch (err) {
      // fetch only says "fetch failed"; the cause (ECONNREFUSED, timeout) is what the operator needs.
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = e.cause?.code ?? e.cause?.message ?? e.message;
      throw new Error(`${this.safeUrl()} is not reachable (${why}); check the telemetry-clickhouse url and that ClickHouse is running`);
    }
    if (!res.ok) throw new Error(`ClickHouse at ${this.safeUrl()} answered ${res.status}: ${text.trim().slice(0, 300)}`);
    const bySeries = new Map<string, HistorySeries>();
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      const r = JSON.parse(line) as { src: string; dst: string; path: string; m: number | string; p95_ms: number | string | null; loss_pct: number | string };
      const key = `${r.src}\u0000${r.dst}\u0000${r.path}`;
      let s = bySeries.get(key);
      if (!s) bySeries.set(key, (s = { src: r.src, dst: r.dst, path: r.path, points: [] }));
      // ClickHouse writes the NaN of an all-lost minute's quantile as null (Number(null) is 0).
      const p95 = r.p95_ms === null ? NaN : Number(r.p95_ms);
      s.points.push({ minute: Number(r.m), p95Ms: Number.isFinite(p95) ? p95 : null, lossPercent: Number(r.loss_pct) });
    }
    return [...bySeries.values()];
  }

  /** The query endpoint: the configured URL's path with a trailing slash, keeping its query string. */
  private endpoint(): string {
    const u = new URL(this.o.url);
    if (!u.pathname.endsWith('/')) u.pathname += '/';
    return u.toString();
  }

  /** The URL for messages, without any credentials embedded in it. */
  private safeUrl(): string {
    const u = new URL(this.o.url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString().replace(/\/$/, '');
  }
}
