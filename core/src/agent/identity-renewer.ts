/**
 * IdentityRenewer keeps the node's identity credential alive: at two thirds of its lifetime it
 * makes a new Ed25519 pair here, offers the public half in a request signed with the current key
 * (with proof made by the new one), and signs everything after with the new key. A stolen identity
 * key is therefore worth at most one lifetime, and the thief and the node cannot both go on: the
 * first renewal locks the other out, visibly. The data plane is not touched.
 *
 * A lost answer leaves the new pair pending in identity.json: the next attempt (or start-up) asks
 * the controller with each key which one it holds.
 */
import type { Logger } from 'pino';
import { ed25519PrivateKey, generateIdentityKeyPair, type KeyPair } from '../auth/keys';
import { ErrorCode } from '../errors';
import type { NodeKeyState } from '../wire';
import { isRefusal } from './controller-client';
import type { IdentityState } from './identity-state';
import type { KeyObject } from 'node:crypto';

export interface IdentityRenewerDeps {
  identity: IdentityState;
  /** Offer `next` as the identity key, signed with `current`. */
  renew(currentPublicKey: string, next: KeyPair): Promise<NodeKeyState>;
  /** Ask for the key state signed with this key. */
  fetchState(key: KeyObject): Promise<NodeKeyState>;
  /** Sign every later request with this identity. */
  useIdentity(pair: KeyPair): void;
  log: Logger;
  clock?: () => number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;
const RETRY_MIN_MS = 5_000;
const RETRY_MAX_MS = 600_000;
/** Renew when this share of the lifetime is left. */
const RENEW_WHEN_LEFT = 1 / 3;

export class IdentityRenewer {
  private state: NodeKeyState | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private retryMs = RETRY_MIN_MS;
  private retryAt: number | null = null;
  private stopped = false;
  private _lastRenewal: { at: number; outcome: 'renewed' | 'failed'; error?: string } | null = null;
  private readonly now: () => number;

  constructor(private readonly d: IdentityRenewerDeps) {
    this.now = d.clock ?? Date.now;
  }

  get lastRenewal(): { at: number; outcome: 'renewed' | 'failed'; error?: string } | null {
    return this._lastRenewal;
  }

  /** The identity expiry the controller last told; null before it did or without a lifetime. */
  get expiresAt(): number | null {
    return this.state?.identityExpiresAt ?? null;
  }

  get nextRenewalAt(): number | null {
    if (this.retryAt !== null) return this.retryAt;
    const s = this.state;
    if (!s || s.identityExpiresAt === null) return null;
    return s.identityExpiresAt - s.identityLifetimeMs * RENEW_WHEN_LEFT;
  }

  /** stop cancels the schedule; it resolves once a renewal already running has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /**
   * resolvePending settles a renewal whose answer was lost: whichever key the controller accepts is
   * the identity. Call before anything else is signed; unreachable leaves it for the next attempt.
   */
  async resolvePending(): Promise<void> {
    const pending = this.d.identity.get().pendingIdentity;
    if (!pending) return;
    const current = this.d.identity.get().identity;
    try {
      const state = await this.d.fetchState(ed25519PrivateKey(current));
      if (state.identityKey === current.publicKey) {
        await this.d.identity.update((i) => ({ ...i, pendingIdentity: null }));
        this.d.log.info('the controller kept the current identity key; dropping the unconfirmed new one');
      }
      return;
    } catch (err) {
      if (!(isRefusal(err) && err.code === ErrorCode.AUTH_BAD_SIGNATURE)) throw err;
    }
    // The current key no longer verifies: the controller took the new one.
    const state = await this.d.fetchState(ed25519PrivateKey(pending));
    if (state.identityKey !== pending.publicKey) return;
    await this.commit(pending);
    this.d.log.info('the controller had taken the new identity key of an unconfirmed renewal; using it');
  }

  /** onKeyState takes the controller's view and schedules the renewal. */
  onKeyState(state: NodeKeyState): void {
    if (this.stopped) return;
    if (this.isStale(state)) {
      this.d.log.debug('a key event older than our last identity renewal arrived late; ignored');
      return;
    }
    this.state = state;
    if (!this.running) this.schedule();
  }

  /**
   * isStale: the state names an identity key that is neither ours nor pending, with an earlier
   * expiry than the one we know. The controller published it before our renewal (a key rotation's
   * event, say) and the map stream delivered it after the renewal's answer; taken as the truth, its
   * old expiry would make us renew again at once.
   */
  private isStale(state: NodeKeyState): boolean {
    const id = this.d.identity.get();
    if (state.identityKey === id.identity.publicKey || state.identityKey === id.pendingIdentity?.publicKey) return false;
    const known = this.state?.identityExpiresAt ?? null;
    return known !== null && state.identityExpiresAt !== null && state.identityExpiresAt < known;
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const at = this.nextRenewalAt;
    if (this.stopped || at === null) return;
    this.timer = setTimeout(() => void this.renew(), Math.min(MAX_TIMER_MS, Math.max(0, at - this.now())));
    this.timer.unref();
  }

  /** renew runs one renewal (joining one already running). */
  renew(): Promise<void> {
    if (!this.running) {
      this.running = this.renewOnce()
        .catch((err: unknown) => this.failed(`renewal broke off: ${(err as Error).message}`))
        .finally(() => {
        this.running = null;
        this.schedule();
      });
    }
    return this.running;
  }

  private async renewOnce(): Promise<void> {
    const { identity, log } = this.d;
    if (identity.get().nodeId === null || this.stopped) return;
    try {
      await this.resolvePending();
    } catch (err) {
      return this.failed(`an earlier renewal is unsettled and the controller cannot say which key it holds (${(err as Error).message})`);
    }
    const current = identity.get().identity;
    const next = generateIdentityKeyPair();
    try {
      await identity.update((i) => ({ ...i, pendingIdentity: next }));
    } catch (err) {
      return this.failed(`could not write identity.json: ${(err as Error).message}`);
    }
    let state: NodeKeyState;
    try {
      state = await this.d.renew(current.publicKey, next);
    } catch (err) {
      if (isRefusal(err)) await identity.update((i) => ({ ...i, pendingIdentity: null })).catch(() => undefined);
      // Otherwise the answer may be lost: the pair stays pending and the next attempt settles it.
      return this.failed((err as Error).message);
    }
    await this.commit(next);
    this.state = state;
    this.retryMs = RETRY_MIN_MS;
    this.retryAt = null;
    this._lastRenewal = { at: this.now(), outcome: 'renewed' };
    log.info({ expiresAt: state.identityExpiresAt === null ? null : new Date(state.identityExpiresAt).toISOString() }, 'identity credential renewed');
  }

  private async commit(pair: KeyPair): Promise<void> {
    await this.d.identity.update((i) => ({ ...i, identity: { privateKey: pair.privateKey, publicKey: pair.publicKey }, pendingIdentity: null }));
    this.d.useIdentity(pair);
  }

  private failed(error: string): void {
    this._lastRenewal = { at: this.now(), outcome: 'failed', error };
    this.retryAt = this.now() + this.retryMs;
    this.d.log.warn({ err: error, retryInMs: this.retryMs }, 'identity renewal failed; the current identity stays in use');
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }
}
