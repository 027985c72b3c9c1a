import type { KeyObject } from 'node:crypto';
import { errors, TrellisError } from '../errors';
import { ed25519PublicKey } from '../auth/keys';
import { SIGNATURE_MAX_SKEW_MS, SIG_HEADERS, verifySignature } from '../auth/signing';
import type { AuditEntry, NodeRecord, Store } from '../store/store';
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
}

export interface NodeAuthenticatorDeps {
  store: Store;
  presence: Presence;
  clock: () => number;
  audit: (entry: AuditEntry) => Promise<void>;
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
 * credential has not lapsed. Every refusal
 * is audited as auth.failure.
 */
export class NodeAuthenticator {
  private readonly keys = new Map<string, { identityKey: string; key: KeyObject }>();

  constructor(private readonly deps: NodeAuthenticatorDeps) {}

  async verify(req: SignedRequestParts): Promise<NodeRecord> {
    const claimed = header(req.headers, SIG_HEADERS.node);
    try {
      const node = await this.check(req, claimed);
      const now = this.deps.clock();
      this.deps.presence.noteSeen(node.id, now);
      if (this.deps.presence.shouldPersist(node.id, now)) await this.deps.store.touchNode(node.id, now);
      return node;
    } catch (err) {
      if (err instanceof TrellisError) {
        await this.deps.audit({
          action: 'auth.failure',
          actor: `remote:${req.ip}`,
          target: claimed ? claimed.slice(0, 64) : null,
          details: { code: err.code, remote: req.ip, route: `${req.method} ${req.url.split('?')[0].slice(0, 128)}` },
        });
      }
      throw err;
    }
  }

  private async check(req: SignedRequestParts, nodeId: string | null): Promise<NodeRecord> {
    const timestamp = header(req.headers, SIG_HEADERS.timestamp);
    const nonce = header(req.headers, SIG_HEADERS.nonce);
    const signature = header(req.headers, SIG_HEADERS.signature);
    if (!nodeId || !timestamp || !nonce || !signature) throw errors.authMissing();
    if (!/^\d{1,16}$/.test(timestamp) || !/^[A-Za-z0-9_-]{16,128}$/.test(nonce)) throw errors.authBadSignature();
    const skew = this.deps.clock() - Number(timestamp);
    if (Math.abs(skew) > SIGNATURE_MAX_SKEW_MS) throw errors.authStale(skew);
    const node = await this.deps.store.getNode(nodeId);
    if (!node) throw errors.authUnknownNode();
    if (!verifySignature(this.keyOf(node), req.method, req.url, timestamp, nonce, req.rawBody, signature)) throw errors.authBadSignature();
    if (node.revoked) throw errors.nodeRevoked(node.name);
    if (node.identityExpiresAt != null && node.identityExpiresAt <= this.deps.clock()) throw errors.identityExpired(node.name, node.identityExpiresAt);
    if (node.expiresAt !== null && node.expiresAt <= this.deps.clock()) throw errors.nodeExpired(node.name);
    // The nonce is kept until its timestamp could no longer pass the skew check.
    if (!(await this.deps.store.consumeNonce(node.id, nonce, Number(timestamp) + SIGNATURE_MAX_SKEW_MS))) throw errors.authReplay();
    return node;
  }

  private keyOf(node: NodeRecord): KeyObject {
    const cached = this.keys.get(node.id);
    if (cached && cached.identityKey === node.identityKey) return cached.key;
    const key = ed25519PublicKey(node.identityKey);
    this.keys.set(node.id, { identityKey: node.identityKey, key });
    return key;
  }
}
