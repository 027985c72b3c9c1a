/**
 * AdminClient calls the controller's admin API with the admin token. The CLI and the lab both use
 * it; where the URL and the token come from is theirs to decide. Given several controllers sharing
 * one store (`https://a:8443,https://b:8443`) it uses one at a time and moves on to the next when
 * that one cannot be reached, as agents do.
 */
import { tlsTrustFailure } from '../auth/controller-trust';
import { errors, TrellisError } from '../errors';
import { fetchFailureReason } from '../sys/fetch-failure';
import type { ErrorBody } from '../wire';
import { FAILOVER_STATUS, neverConnected, parseControllerUrls } from './controller-urls';

/** How long one attempt of an admin request may take. */
const REQUEST_TIMEOUT_MS = 15_000;

export class AdminClient {
  /** Every controller, in the order given. */
  readonly urls: readonly string[];
  private current = 0;

  constructor(
    /** One controller URL, or several separated by commas. */
    url: string,
    private readonly token: string,
    /** The fetch that trusts the controller (auth/controller-trust.ts trustingFetch); default the global one. */
    private readonly fetchFn: typeof fetch = fetch,
  ) {
    this.urls = parseControllerUrls(url);
  }

  /** The controller in use: the first, or the one the last failover moved to. */
  get url(): string {
    return this.urls[this.current]!;
  }

  /** request sends JSON and returns the parsed answer; error bodies become TrellisErrors. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await this.fetch(path, { method, body: body === undefined ? undefined : JSON.stringify(body), timeoutMs: REQUEST_TIMEOUT_MS });
    } catch (err) {
      const tls = tlsTrustFailure(err);
      if (tls) throw errors.tlsUntrusted(this.url, tls);
      throw errors.controllerUnreachable(this.urls.length > 1 ? this.urls.join(', ') : this.url, fetchFailureReason(err));
    }
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      parsed = null;
    }
    if (!res.ok) {
      const e = (parsed as Partial<ErrorBody> | null)?.error;
      if (e?.code) throw new TrellisError(e.code, e.message);
      throw errors.controllerUnreachable(this.url, `HTTP ${res.status} from ${method} ${path}: ${text.slice(0, 200)}`);
    }
    return parsed as T;
  }

  /**
   * fetch sends one authenticated request and returns the raw answer (a body is sent as JSON unless
   * typed). It tries each controller in turn, starting with the one in use, while they cannot be
   * reached or answer 502/503/504; a request that may have reached a controller (a reset or a
   * timeout after connecting) moves on only when it reads (GET, HEAD), so no change is applied twice.
   * timeoutMs bounds each attempt, not the whole.
   */
  async fetch(path: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Response> {
    const { timeoutMs, ...rest } = init;
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${this.token}`);
    if (init.body !== undefined && init.body !== null && !headers.has('content-type')) headers.set('content-type', 'application/json');
    const method = (init.method ?? 'GET').toUpperCase();
    const reads = method === 'GET' || method === 'HEAD';
    for (let tried = 1; ; tried++) {
      const base = this.url;
      const last = tried >= this.urls.length;
      let res: Response;
      try {
        const signal = timeoutMs === undefined ? rest.signal : rest.signal ? AbortSignal.any([rest.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
        res = await this.fetchFn(base + path, { ...rest, headers, signal });
      } catch (err) {
        const movable = !tlsTrustFailure(err) && !rest.signal?.aborted && (neverConnected(err) || reads);
        if (last || !movable) throw err;
        this.moveOn(base);
        continue;
      }
      if (last || !FAILOVER_STATUS.has(res.status)) return res;
      await res.body?.cancel().catch(() => undefined);
      this.moveOn(base);
    }
  }

  private moveOn(from: string): void {
    if (this.url === from) this.current = (this.current + 1) % this.urls.length;
  }
}

