/**
 * AuthFailureLog counts failed authentications per source address in fixed windows. The first few
 * failures of a source in a window are audited one by one (auth.failure, with code and route); the
 * rest, and the requests refused with 429 while the source is blocked, are counted and written as
 * one auth.failure.summary entry when the window ends. So a flood adds a bounded number of rows
 * (auditPerWindow + 1 per source per window) and never pushes real events out. A source past
 * blockAfter failures in its window is refused (429) on every route until the window ends.
 */
import type { AuditEntry } from '../store/store';

export interface AuthFailure {
  /** Remote address. */
  source: string;
  /** e.g. "POST /v1/enroll" or "enroll". */
  route: string;
  code: string;
  target?: string | null;
  /** Extra audit details (key id, claimed name, …); never secrets. */
  details?: Record<string, unknown>;
}

export interface AuthFailureLogOptions {
  audit: (entry: AuditEntry) => Promise<void>;
  clock: () => number;
  windowMs: number;
  /** Failures per source per window audited one by one. */
  auditPerWindow: number;
  /** Failures per source per window after which the source gets 429 on every route. */
  blockAfter: number;
  /** Sources tracked at once; failures from further sources share one bucket. Default 10 000. */
  maxSources?: number;
  /** Told about every failure and every refused request (metrics). */
  onFailure?: (route: string, code: string) => void;
  onRateLimited?: (route: string) => void;
}

interface Window {
  source: string;
  start: number;
  failures: number;
  audited: number;
  rateLimited: number;
  codes: Record<string, number>;
  routes: Record<string, number>;
}

/** Sources past maxSources are counted under this key. */
export const OVERFLOW_SOURCE = 'other-sources';
const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);

export class AuthFailureLog {
  private readonly windows = new Map<string, Window>();
  private readonly maxSources: number;
  private sweeper: NodeJS.Timeout | null = null;
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly o: AuthFailureLogOptions) {
    this.maxSources = o.maxSources ?? 10_000;
  }

  start(): void {
    this.sweeper = setInterval(() => void this.sweep(), Math.min(1000, this.o.windowMs / 4));
    this.sweeper.unref();
  }

  private window(source: string, now: number): Window {
    let key = source;
    if (!this.windows.has(key) && this.windows.size >= this.maxSources) key = OVERFLOW_SOURCE;
    let w = this.windows.get(key);
    if (w && now >= w.start + this.o.windowMs) {
      this.flush(w);
      w = undefined;
    }
    if (!w) {
      w = { source: key, start: now, failures: 0, audited: 0, rateLimited: 0, codes: {}, routes: {} };
      this.windows.set(key, w);
    }
    return w;
  }

  /** failed records one failed authentication; resolves when its audit entry (if any) is written. */
  async failed(f: AuthFailure): Promise<void> {
    const now = this.o.clock();
    const w = this.window(f.source, now);
    w.failures++;
    bump(w.codes, f.code);
    bump(w.routes, f.route);
    this.o.onFailure?.(f.route, f.code);
    if (w.audited >= this.o.auditPerWindow) return;
    w.audited++;
    await this.o.audit({
      at: now,
      action: 'auth.failure',
      actor: `remote:${f.source}`,
      target: f.target ?? null,
      details: { ...(f.details ?? {}), code: f.code, remote: f.source, route: f.route },
    });
  }

  /** blockedFor is how long (ms) the source is still refused, or 0. */
  blockedFor(source: string): number {
    const w = this.windows.get(source) ?? (this.windows.size >= this.maxSources ? this.windows.get(OVERFLOW_SOURCE) : undefined);
    if (!w || w.failures < this.o.blockAfter) return 0;
    return Math.max(0, w.start + this.o.windowMs - this.o.clock());
  }

  /** rateLimited counts a request refused with 429 (by the block or a route's rate limit) into the source's window. */
  rateLimited(source: string, route: string): void {
    const w = this.window(source, this.o.clock());
    w.rateLimited++;
    bump(w.routes, route);
    this.o.onRateLimited?.(route);
  }

  private flush(w: Window): void {
    this.windows.delete(w.source);
    if (w.failures <= w.audited && w.rateLimited === 0) return;
    const entry: AuditEntry = {
      at: Math.min(this.o.clock(), w.start + this.o.windowMs),
      action: 'auth.failure.summary',
      actor: `remote:${w.source}`,
      target: null,
      details: {
        remote: w.source,
        windowStart: w.start,
        windowEnd: w.start + this.o.windowMs,
        count: w.failures,
        auditedOneByOne: w.audited,
        rateLimited: w.rateLimited,
        codes: w.codes,
        routes: w.routes,
      },
    };
    this.pending = this.pending.then(() => this.o.audit(entry));
  }

  /** sweep writes the summaries of windows that have ended. */
  async sweep(): Promise<void> {
    const now = this.o.clock();
    for (const w of [...this.windows.values()]) if (now >= w.start + this.o.windowMs) this.flush(w);
    await this.pending;
  }

  /** stats: sources with failures in their current window, and the most failures one of them made. */
  stats(): { sources: number; maxFailures: number; blocked: number } {
    let maxFailures = 0;
    let blocked = 0;
    for (const w of this.windows.values()) {
      maxFailures = Math.max(maxFailures, w.failures);
      if (w.failures >= this.o.blockAfter) blocked++;
    }
    return { sources: this.windows.size, maxFailures, blocked };
  }

  /** close writes every open window's summary (at shutdown). */
  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const w of [...this.windows.values()]) this.flush(w);
    await this.pending;
  }
}
