import type { KeyObject } from 'node:crypto';
import { ErrorCode, errors, TrellisError } from '../errors';
import { tlsTrustFailure } from '../auth/controller-trust';
import { ed25519PrivateKey, type KeyPair } from '../auth/keys';
import { identityRenewalProof, signPossession, signRequest } from '../auth/signing';
import {
  MAP_FEATURE_FILTER_PATCH,
  MAP_FEATURES_HEADER,
  ROUTES,
  type ConnectionEventsRequest,
  type EndpointsRequest,
  type EnrollRequest,
  type EnrollResponse,
  type ErrorBody,
  type ExitUseRequest,
  type FactsRequest,
  type IdentityRenewRequest,
  type NodeKeyState,
  type TelemetryRequest,
  type TelemetryResponse,
  type WgKeyLeaseResponse,
  type WgKeyRotateRequest,
  type WgKeyRotationReason,
  type RoutesRequest,
  type RoutesResponse,
} from '../wire';
import { FAILOVER_STATUS, parseControllerUrls } from '../client/controller-urls';
import { SseParser, type SseEvent } from './sse-parser';
import type { EndpointCandidate, RelayOffer } from '../netmap/types';

/**
 * ControllerRequestError is a refusal the controller answered with `{error:{code,message}}`;
 * it keeps the code and the HTTP status so callers can tell "refused" (4xx) from "broken" (5xx).
 */
export class ControllerRequestError extends TrellisError {
  constructor(
    code: string,
    message: string,
    readonly status: number,
  ) {
    super(code, message, { status });
    this.name = 'ControllerRequestError';
  }
}

/** isRefusal tells a definite 4xx answer (do not retry) from an outage (retry with backoff). */
export function isRefusal(err: unknown): err is ControllerRequestError {
  return err instanceof ControllerRequestError && err.status >= 400 && err.status < 500;
}

export interface ControllerClientOptions {
  /**
   * Base URL, e.g. http://198.18.0.1:8080, or several separated by commas (controllers sharing one
   * store): requests go to one, and move to the next when it cannot be reached.
   */
  url: string;
  /** Per-request timeout for JSON calls, ms. Default 10 000. */
  timeoutMs?: number;
  /** A map stream that carries no bytes (not even a ping) for this long is dropped, ms. Default 60 000. */
  streamIdleMs?: number;
  fetch?: typeof fetch;
}

/** The map stream's delta forms this agent applies (netmap/delta.ts applyMapResponse). */
const STREAM_HEADERS: Record<string, string> = { [MAP_FEATURES_HEADER]: MAP_FEATURE_FILTER_PATCH };

/**
 * ControllerClient speaks the node side of the wire contract (wire/): enroll unsigned, everything
 * else signed with the node identity key. Given several controllers it uses one at a time and
 * fails over to the next when a request or the map stream cannot reach it.
 */
export class ControllerClient {
  /** Every controller, in the order given. */
  readonly urls: readonly string[];
  private current = 0;
  /** How many times requests moved to another controller. */
  failovers = 0;
  private readonly timeoutMs: number;
  private readonly streamIdleMs: number;
  private readonly fetchFn: typeof fetch;
  private signer: { nodeId: string; key: KeyObject } | null = null;

  constructor(opts: ControllerClientOptions) {
    this.urls = parseControllerUrls(opts.url);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.streamIdleMs = opts.streamIdleMs ?? 60_000;
    this.fetchFn = opts.fetch ?? fetch;
  }

  /** The controller in use. */
  get url(): string {
    return this.urls[this.current]!;
  }

  /** failover moves on from `from` to the next controller (unless another call already moved on). */
  private failover(from: string): void {
    if (this.urls.length < 2 || this.url !== from) return;
    this.current = (this.current + 1) % this.urls.length;
    this.failovers++;
  }

  /**
   * attempt runs one call against each controller in turn, starting with the one in use, until one
   * answers; an unreachable controller (or one answering 502/503/504) is left for the next.
   */
  private async attempt<T>(call: (base: string) => Promise<T>): Promise<T> {
    let last: unknown;
    for (let i = 0; i < this.urls.length; i++) {
      const base = this.url;
      try {
        return await call(base);
      } catch (err) {
        if (!isOutage(err)) throw err;
        last = err;
        this.failover(base);
      }
    }
    throw last;
  }

  /** setIdentity makes every later request signed as nodeId. */
  setIdentity(nodeId: string, key: KeyObject): void {
    this.signer = { nodeId, key };
  }

  /** enroll trades the auth key for a node id, signed with the identity key it enrols (proof of possession). */
  enroll(req: EnrollRequest, identityKey: KeyObject): Promise<EnrollResponse> {
    return this.request<EnrollResponse>('POST', ROUTES.enroll, req, identityKey);
  }

  /**
   * postEndpoints reports the node's endpoints and its relay offer (null: not a relay), and their
   * candidates (version 2) when given: only for a controller whose maps carry candidates.
   */
  async postEndpoints(endpoints: string[], relay: RelayOffer | null, candidates?: EndpointCandidate[]): Promise<void> {
    const body: EndpointsRequest = { endpoints, ...(candidates ? { candidates } : {}), relay };
    await this.request('POST', ROUTES.endpoints, body, true);
  }

  /** postRoutes reports what the node advertises as a gateway and the health of its checks. */
  postRoutes(body: RoutesRequest): Promise<RoutesResponse> {
    return this.request<RoutesResponse>('POST', ROUTES.nodeRoutes, body, true);
  }

  /** postExitUse reports the exit node this node uses (`trellis up --exit-node`). */
  async postExitUse(body: ExitUseRequest): Promise<void> {
    await this.request('POST', ROUTES.nodeExit, body, true);
  }

  async postFacts(req: FactsRequest): Promise<void> {
    await this.request('POST', ROUTES.facts, req, true);
  }

  /** postConnectionEvents reports tunnel and path changes for the controller's audit log. */
  async postConnectionEvents(body: ConnectionEventsRequest): Promise<void> {
    await this.request('POST', ROUTES.nodeEvents, body, true);
  }

  /** postTelemetry sends one signed telemetry batch; the controller answers whether it was a duplicate. */
  async postTelemetry(batch: TelemetryRequest): Promise<TelemetryResponse> {
    return this.request<TelemetryResponse>('POST', ROUTES.telemetry, batch, true);
  }

  /** The node id requests are signed as; null before enrolment. */
  get nodeId(): string | null {
    return this.signer?.nodeId ?? null;
  }

  /** getKeyState asks what the controller holds about this node's keys, signed with `key` (default: the current identity). */
  getKeyState(key?: KeyObject, timeoutMs = this.timeoutMs): Promise<NodeKeyState> {
    return this.request<NodeKeyState>('GET', ROUTES.nodeKeys, undefined, true, timeoutMs, key);
  }

  /** leaseWgRotation asks to rotate now; a peer rotating makes it a ControllerRequestError ROTATION_BUSY. */
  leaseWgRotation(timeoutMs = 5_000): Promise<WgKeyLeaseResponse> {
    return this.request<WgKeyLeaseResponse>('POST', ROUTES.nodeWgKeyLease, undefined, true, timeoutMs);
  }

  /** registerWgKey registers a rotated WireGuard public key; a short timeout, since the device waits on it. */
  registerWgKey(wgKey: string, reason: WgKeyRotationReason, timeoutMs = 5_000): Promise<NodeKeyState> {
    const body: WgKeyRotateRequest = { wgKey, reason };
    return this.request<NodeKeyState>('POST', ROUTES.nodeWgKey, body, true, timeoutMs);
  }

  /**
   * renewIdentity offers `next` as this node's identity key, signed with the current one and with
   * proof made by `next`; currentPublicKey is the identity key the controller holds now.
   */
  renewIdentity(currentPublicKey: string, next: KeyPair): Promise<NodeKeyState> {
    if (!this.signer) throw errors.usage('this node is not enrolled yet: enroll with an auth key before calling the controller');
    const body: IdentityRenewRequest = {
      identityKey: next.publicKey,
      proof: identityRenewalProof(ed25519PrivateKey(next), this.signer.nodeId, currentPublicKey, next.publicKey),
    };
    return this.request<NodeKeyState>('POST', ROUTES.nodeIdentity, body, true);
  }

  /**
   * getRaw GETs a signed node route and returns the answer as bytes, whatever its status (for
   * plugins: policy bundles and the like). Rejects only when the controller cannot be reached.
   */
  async getRaw(pathAndQuery: string, timeoutMs = this.timeoutMs): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    if (!pathAndQuery.startsWith('/')) throw errors.usage(`controller path "${pathAndQuery}" must start with /`);
    return this.attempt(async (base) => {
      const headers = this.headers('GET', pathAndQuery, '', true);
      try {
        const res = await this.fetchFn(base + pathAndQuery, { method: 'GET', headers, signal: AbortSignal.timeout(timeoutMs) });
        const body = Buffer.from(await res.arrayBuffer());
        const h: Record<string, string> = {};
        res.headers.forEach((v, k) => (h[k.toLowerCase()] = v));
        return { status: res.status, headers: h, body };
      } catch (err) {
        throw unreachable(base, err);
      }
    });
  }

  private headers(method: string, pathAndQuery: string, raw: string, signed: boolean | KeyObject, key?: KeyObject): Record<string, string> {
    const h: Record<string, string> = {};
    if (raw !== '') h['content-type'] = 'application/json';
    if (typeof signed === 'object') {
      Object.assign(h, signPossession(signed, method, pathAndQuery, raw));
    } else if (signed) {
      if (!this.signer) throw errors.usage('this node is not enrolled yet: enroll with an auth key before calling the controller');
      Object.assign(h, signRequest(key ?? this.signer.key, this.signer.nodeId, method, pathAndQuery, raw));
    }
    return h;
  }

  /**
   * signed: true signs as the enrolled node (with `key` instead of its identity key when given), a
   * key proves possession of it (enrolment), false sends unsigned.
   */
  private async send(
    base: string,
    method: string,
    pathAndQuery: string,
    raw: string,
    signed: boolean | KeyObject,
    signal: AbortSignal,
    key?: KeyObject,
    extra?: Record<string, string>,
  ): Promise<Response> {
    // Signed per attempt: each carries a fresh nonce, so another controller never sees a replay.
    const headers = { ...this.headers(method, pathAndQuery, raw, signed, key), ...extra };
    let res: Response;
    try {
      res = await this.fetchFn(base + pathAndQuery, { method, headers, body: raw === '' ? undefined : raw, signal });
    } catch (err) {
      throw unreachable(base, err);
    }
    if (!res.ok) throw await toError(res, base);
    return res;
  }

  private async request<T>(method: string, route: string, body: unknown, signed: boolean | KeyObject, timeoutMs = this.timeoutMs, key?: KeyObject): Promise<T> {
    const raw = body === undefined ? '' : JSON.stringify(body);
    return this.attempt(async (base) => {
      const res = await this.send(base, method, route, raw, signed, AbortSignal.timeout(timeoutMs), key);
      let text: string;
      try {
        text = await res.text();
      } catch (err) {
        throw errors.controllerUnreachable(base, describe(err));
      }
      if (text.trim() === '') return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new ControllerRequestError(ErrorCode.CONTROLLER_UNREACHABLE, `controller at ${base}: ${route} answered ${res.status} with a body that is not JSON`, res.status);
      }
    });
  }

  /**
   * streamMap opens the signed SSE map stream and yields its events until the server closes it,
   * the stream stalls past streamIdleMs, or signal aborts (then it just ends).
   * since/epoch null ask for a full map.
   */
  async *streamMap(since: number | null, epoch: string | null, signal: AbortSignal): AsyncGenerator<SseEvent> {
    const q = new URLSearchParams();
    if (since !== null) q.set('since', String(since));
    if (epoch !== null) q.set('epoch', epoch);
    const qs = q.toString();
    const pathAndQuery = ROUTES.mapStream + (qs ? `?${qs}` : '');
    const local = new AbortController();
    const onAbort = () => local.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    let idle: NodeJS.Timeout | undefined;
    let stalled = false;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        stalled = true;
        local.abort();
      }, this.streamIdleMs);
    };
    let base = this.url;
    try {
      arm();
      let res: Response;
      try {
        res = await this.attempt((b) => ((base = b), this.send(b, 'GET', pathAndQuery, '', true, local.signal, undefined, STREAM_HEADERS)));
      } catch (err) {
        if (signal.aborted) return;
        throw err;
      }
      if (!res.body) throw errors.controllerUnreachable(base, 'map stream answered without a body');
      const parser = new SseParser();
      const reader = res.body.getReader();
      try {
        for (;;) {
          let chunk: Awaited<ReturnType<typeof reader.read>>;
          try {
            chunk = await reader.read();
          } catch (err) {
            if (signal.aborted) return;
            // The next stream starts at the next controller: this one broke or went silent.
            this.failover(base);
            throw errors.controllerUnreachable(base, stalled ? `map stream carried nothing for ${this.streamIdleMs} ms` : describe(err));
          }
          if (chunk.done) {
            if (!signal.aborted) this.failover(base);
            for (const ev of parser.end()) yield ev;
            return;
          }
          arm();
          for (const ev of parser.push(chunk.value)) yield ev;
        }
      } finally {
        reader.cancel().catch(() => undefined);
      }
    } finally {
      clearTimeout(idle);
      signal.removeEventListener('abort', onAbort);
      local.abort();
    }
  }
}

/** isOutage: the controller could not be reached or said it cannot serve now (not a refusal). */
function isOutage(err: unknown): boolean {
  if (err instanceof ControllerRequestError) return FAILOVER_STATUS.has(err.status);
  return err instanceof TrellisError && err.code === ErrorCode.CONTROLLER_UNREACHABLE;
}

async function toError(res: Response, url: string): Promise<TrellisError> {
  let body: Partial<ErrorBody> | null = null;
  try {
    body = (await res.json()) as Partial<ErrorBody>;
  } catch {
    body = null;
  }
  const code = body?.error?.code;
  const message = body?.error?.message;
  if (typeof code === 'string' && typeof message === 'string') return new ControllerRequestError(code, message, res.status);
  if (res.status >= 500) return new ControllerRequestError(ErrorCode.CONTROLLER_UNREACHABLE, `controller at ${url} answered ${res.status}`, res.status);
  return new ControllerRequestError(ErrorCode.BAD_REQUEST, `controller at ${url} answered ${res.status} without an error body`, res.status);
}

/** unreachable is a failed request as an error: TLS_UNTRUSTED when the certificate did not verify (retrying will not help), else CONTROLLER_UNREACHABLE. */
function unreachable(url: string, err: unknown): TrellisError {
  const tls = tlsTrustFailure(err);
  return tls ? errors.tlsUntrusted(url, tls) : errors.controllerUnreachable(url, describe(err));
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    if (cause instanceof Error) return `${err.message}: ${(cause as NodeJS.ErrnoException).code ?? cause.message}`;
    return err.message;
  }
  return String(err);
}
