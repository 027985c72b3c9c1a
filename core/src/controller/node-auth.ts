import type { KeyObject } from 'node:crypto';
import { errors, TrellisError } from '../errors';
import { ed25519PublicKey } from '../auth/keys';
import { SIGNATURE_MAX_SKEW_MS, SIG_HEADERS, verifySignature } from '../auth/signing';
import type { NodeRecord, Store } from '../store/store';
import type { AuthFailure } from './auth-failure-log';
import type { Presence } from './presence';

/** The parts of an HTTP request a signature covers. */
export interface SignedRequestParts {
  method: string;
  /** Path with query string, exactly as received. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
  /** Remote address, for the audit log. */
  ip: string;
  /** The route's pattern (e.g. /v1/node/facts), for counters; default the path. */
  route?: string;
}

export interface NodeAuthenticatorDeps {
  store: Store;
  presence: Presence;
  clock: () => number;
  /** Records a refused request (audited, counted per source: AuthFailureLog). */
  failed: (failure: AuthFailure) => Promise<void>;
}

const header = (h: SignedRequestParts['headers'], name: string): string | null => {
  const v = h[name];
  return typeof v === 'string' && v.length > 0 ? v : null;
};

/**
 * NodeAuthenticator verifies a signed node request: the four x-trellis-* headers, a timestamp within
 * SIGNATURE_MAX_SKEW_MS, an Ed25519 signature by the node's identity key over method, path+query,
 * timestamp, nonce and sha256(raw body), a nonce never seen before (kept in the store, so a replay
 * after a restart is still refused), and a node that is neither revoked nor expired, whose identity
 * credential has not lapsed. Every refusal goes to the failure log (audited, counted per source).
 * The header checks also run on their own before a body is read (precheck), so a large unsigned
 * or stale body is never parsed.
 */
export class NodeAuthenticator {
  private readonly keys = new Map<string, { identityKey: string; key: KeyObject }>();

  constructor(private readonly deps: NodeAuthenticatorDeps) {}

  async verify(req: SignedRequestParts): Promise<NodeRecord> {
    const node = await this.audited(req, () => this.check(req));
    const now = this.deps.clock();
    this.deps.presence.noteSeen(node.id, now);
    if (this.deps.presence.shouldPersist(node.id, now)) await this.deps.store.touchNode(node.id, now);
    return node;
  }

  /**
   * precheck runs before the body is read (a preParsing hook): the signature headers are there and
   * well-formed, the timestamp is fresh and the node is known. A request failing any of these is
   * refused without reading or parsing its body; verify then checks the signature over the raw bytes.
   */
  async precheck(req: Omit<SignedRequestParts, 'rawBody'>): Promise<void> {
    await this.audited(req, async () => {
      await this.headerNode(req);
    });
  }

  private async audited<T>(req: Omit<SignedRequestParts, 'rawBody'>, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof TrellisError) {
        const claimed = header(req.headers, SIG_HEADERS.node);
        await this.deps.failed({ source: req.ip, route: `${req.method} ${req.route ?? req.url.split('?')[0]!.slice(0, 128)}`, code: err.code, target: claimed ? claimed.slice(0, 64) : null });
      }
      throw err;
    }
  }

  private async headerNode(req: Omit<SignedRequestParts, 'rawBody'>): Promise<{ node: NodeRecord; timestamp: string; nonce: string; signature: string }> {
    const nodeId = header(req.headers, SIG_HEADERS.node);
    const timestamp = header(req.headers, SIG_HEADERS.timestamp);
    const nonce = header(req.headers, SIG_HEADERS.nonce);
    const signature = header(req.headers, SIG_HEADERS.signature);
    if (!nodeId || !timestamp || !nonce || !signature) throw errors.authMissing();
    if (!/^\d{1,16}$/.test(timestamp) || !/^[A-Za-z0-9_-]{16,128}$/.test(nonce)) throw errors.authBadSignature();
    const skew = this.deps.clock() - Number(timestamp);
    if (Math.abs(skew) > SIGNATURE_MAX_SKEW_MS) throw errors.authStale(skew);
    const node = await this.deps.store.getNode(nodeId);
    if (!node) throw errors.authUnknownNode();
    return { node, timestamp, nonce, signature };
  }

  private async check(req: SignedRequestParts): Promise<NodeRecord> {
    const { node, timestamp, nonce, signature } = await this.headerNode(req);
    if (!verifySignature(this.keyOf(node), req.method, req.url, timestamp, nonce, req.rawBody, signature)) throw errors.authBadSignature();
    if (node.revoked) throw errors.nodeRevoked(node.name);
    if (node.identityExpiresAt != null && node.identityExpiresAt <= this.deps.clock()) throw errors.identityExpired(node.name, node.identityExpiresAt);
    if (node.expiresAt !== null && node.expiresAt <= this.deps.clock()) throw errors.nodeExpired(node.name);
    // The nonce is kept until its timestamp could no longer pass the skew check.
    if (!(await this.deps.store.consumeNonce(node.id, nonce, Number(timestamp) + SIGNATURE_MAX_SKEW_MS))) throw errors.authReplay();
    return node;
  }

  /**
   * verifyPossession checks that an unenrolled request (enrolment) is signed by the private half of
   * identityKey: fresh timestamp and a signature over method, path, timestamp, nonce and the raw
   * body. The caller spends the nonce (never seen before for that key) once the request succeeded.
   * Refusals are thrown; the caller records them.
   */
  verifyPossession(req: SignedRequestParts, identityKey: string): { consumeNonce(): Promise<void> } {
    const { timestamp, nonce, signature } = this.possessionHeaders(req);
    if (!verifySignature(ed25519PublicKey(identityKey), req.method, req.url, timestamp, nonce, req.rawBody, signature)) throw errors.enrollProofInvalid();
    return {
      // Spent once the enrolment succeeded: a refused request changes nothing, and a replay of an accepted one is refused.
      consumeNonce: async () => {
        if (!(await this.deps.store.consumeNonce(`enroll:${identityKey}`, nonce, Number(timestamp) + SIGNATURE_MAX_SKEW_MS))) throw errors.authReplay();
      },
    };
  }

  /** possessionHeaders checks the proof headers' presence, form and freshness (also before the body is read). */
  possessionHeaders(req: Pick<SignedRequestParts, 'headers'>): { timestamp: string; nonce: string; signature: string } {
    const timestamp = header(req.headers, SIG_HEADERS.timestamp);
    const nonce = header(req.headers, SIG_HEADERS.nonce);
    const signature = header(req.headers, SIG_HEADERS.signature);
    if (!timestamp || !nonce || !signature) throw errors.enrollProofMissing();
    if (!/^\d{1,16}$/.test(timestamp) || !/^[A-Za-z0-9_-]{16,128}$/.test(nonce)) throw errors.enrollProofInvalid();
    const skew = this.deps.clock() - Number(timestamp);
    if (Math.abs(skew) > SIGNATURE_MAX_SKEW_MS) throw errors.authStale(skew);
    return { timestamp, nonce, signature };
  }

  private keyOf(node: NodeRecord): KeyObject {
    const cached = this.keys.get(node.id);
    if (cached && cached.identityKey === node.identityKey) return cached.key;
    const key = ed25519PublicKey(node.identityKey);
    this.keys.set(node.id, { identityKey: node.identityKey, key });
    return key;
  }
}
