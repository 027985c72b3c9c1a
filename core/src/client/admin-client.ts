/**
 * AdminClient calls the controller's admin API with the admin token. The CLI and the lab both use
 * it; where the URL and the token come from is theirs to decide.
 */
import { tlsTrustFailure } from '../auth/controller-trust';
import { errors, TrellisError } from '../errors';
import { fetchFailureReason } from '../sys/fetch-failure';
import type { ErrorBody } from '../wire';

export class AdminClient {
  constructor(
    readonly url: string,
    private readonly token: string,
    /** The fetch that trusts the controller (auth/controller-trust.ts trustingFetch); default the global one. */
    private readonly fetchFn: typeof fetch = fetch,
  ) {}

  /** request sends JSON and returns the parsed answer; error bodies become TrellisErrors. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await this.fetch(path, { method, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
    } catch (err) {
      const tls = tlsTrustFailure(err);
      if (tls) throw errors.tlsUntrusted(this.url, tls);
      throw errors.controllerUnreachable(this.url, fetchFailureReason(err));
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

  /** fetch sends one authenticated request and returns the raw answer (a body is sent as JSON unless typed). */
  fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${this.token}`);
    if (init.body !== undefined && init.body !== null && !headers.has('content-type')) headers.set('content-type', 'application/json');
    return this.fetchFn(this.url + path, { ...init, headers });
  }
}
