/**
 * ClickHouseHistory reads this plugin's one-minute probe rollup over ClickHouse's HTTP interface
 * for the controller's web console (its per-path history charts), registered in setup as the
 * controller's path history. It uses the plugin's own url, credentials, database and prefix, and
 * only reads.
 */
import { fetchFailureReason, type PathHistorySeries, type PathHistorySource } from '@trellis/core/api';

export interface ClickHouseHistoryOptions {
  url: string;
  username: string;
  password: string;
  database: string;
  tablePrefix: string;
  timeoutMs?: number;
}

const IDENT = /^[a-z_][a-z0-9_]*$/;

export class ClickHouseHistory implements PathHistorySource {
  constructor(private readonly o: ClickHouseHistoryOptions) {
    if (!IDENT.test(o.database) || !IDENT.test(o.tablePrefix)) throw new TypeError('database and tablePrefix must be plain identifiers');
    if (!/^https?:$/.test(new URL(o.url).protocol)) throw new TypeError(`url must be http(s), got ${JSON.stringify(o.url)}`);
  }

  /** p95RttHistory is one series per (src, dst, path) over the last `minutes` minutes. */
  async p95RttHistory(minutes = 60): Promise<PathHistorySeries[]> {
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
      throw new Error(`${this.safeUrl()} is not reachable (${fetchFailureReason(err)}); check the telemetry-clickhouse url and that ClickHouse is running`);
    }
    if (!res.ok) throw new Error(`ClickHouse at ${this.safeUrl()} answered ${res.status}: ${text.trim().slice(0, 300)}`);
    const bySeries = new Map<string, PathHistorySeries>();
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
