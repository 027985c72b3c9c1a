/**
 * WgKeyRotator rotates this node's WireGuard key, make before break: the new pair is made here and
 * written to identity.json as pending, the device switches to it (peers keep their sessions' receive
 * side, so their packets still arrive; ours wait in wireguard-go's staged queue), then the public
 * half is registered with the controller, which hands it to every peer. Each peer swaps the old
 * key for the new one in one UAPI transaction with an immediate keepalive, so it handshakes at
 * once and our staged packets flow. Only then is the old pair dropped. A refused or failed
 * registration puts the old key back (peers never learned the new one).
 *
 * The controller's NodeKeyState (map stream `event: key`, or GET /v1/node/keys) is the truth: it
 * says when the key is due (interval by tag, jittered here), whether an admin asked for a rotation
 * now, and, after a crash or a lost answer, which of our two pairs peers use.
 */
import type { Logger } from 'pino';
import { generateWgKeyPair } from '../auth/keys';
import { ErrorCode } from '../errors';
import type { NodeKeyState, WgKeyRotationReason } from '../wire';
import { isRefusal } from './controller-client';
import type { IdentityState } from './identity-state';

export interface WgKeyRotatorDeps {
  identity: IdentityState;
  /** Write a private key to the device (Reconfigurer.setPrivateKey); false when the write failed. */
  setDeviceKey(privateKey: string): Promise<boolean>;
  /** Ask the controller for a short lease to rotate now (refused while a peer rotates). */
  lease(): Promise<unknown>;
  /** Register the public half with the controller. */
  register(wgKey: string, reason: WgKeyRotationReason): Promise<NodeKeyState>;
  /** What the controller holds now (after an answer was lost). */
  fetchState(): Promise<NodeKeyState>;
  /** Whether the map stream is up: rotation needs the controller, so it waits for it. */
  connected(): boolean;
  /** The registered key changed (rotation done, or a crash resolved): status, facts, posture. */
  onKeyChanged(publicKey: string, createdAt: number): void;
  log: Logger;
  clock?: () => number;
  random?: () => number;
}

export interface RotationRecord {
  at: number;
  reason: WgKeyRotationReason;
  outcome: 'rotated' | 'failed';
  /** How long the device waited between switching keys and the registration answer, ms. */
  registrationMs?: number;
  error?: string;
}

const MAX_TIMER_MS = 2 ** 31 - 1;
/** Scheduled rotations spread over up to 5% of the interval, at most an hour, so a fleet does not rotate at once. */
const JITTER_SHARE = 0.05;
const MAX_JITTER_MS = 3_600_000;
const RETRY_MIN_MS = 5_000;
/** A peer is rotating: try again after this much plus up to the same again at random. */
const BUSY_RETRY_MS = 700;
const RETRY_MAX_MS = 600_000;

export class WgKeyRotator {
  private state: NodeKeyState | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<RotationRecord | null> | null = null;
  private jitter: { createdAt: number; ms: number } | null = null;
  private retryMs = RETRY_MIN_MS;
  private retryAt: number | null = null;
  private stopped = false;
  private _last: RotationRecord | null = null;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly d: WgKeyRotatorDeps) {
    this.now = d.clock ?? Date.now;
    this.random = d.random ?? Math.random;
  }

  /** The last rotation attempt, for `trellis status`. */
  get last(): RotationRecord | null {
    return this._last;
  }
  get rotating(): boolean {
    return this.running !== null;
  }
  get controllerState(): NodeKeyState | null {
    return this.state;
  }

  /** nextRotationAt is when this node will rotate next (null until the controller told its interval). */
  get nextRotationAt(): number | null {
    if (!this.state) return null;
    if (this.retryAt !== null) return this.retryAt;
    if (this.state.rotateRequestedAt !== null) return this.now();
    return this.state.rotationDueAt - this.jitterMs(this.state);
  }

  /** stop cancels the schedule; it resolves once a rotation already running has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    await this.running;
  }

  /**
   * resolvePending settles a rotation a crash or a lost answer left open: it asks the controller
   * which key it holds and keeps the matching pair. Unreachable: the registered pair stays in use
   * and the pending one waits for the next key state. Call before the device is configured.
   */
  async resolvePending(): Promise<void> {
    if (!this.d.identity.get().pendingWg) return;
    try {
      await this.reconcile(await this.d.fetchState(), false);
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message }, 'a WireGuard key rotation was left unfinished and the controller cannot say which key it holds; using the registered key until it can');
    }
  }

  /** onKeyState takes the controller's view (map stream `event: key`): reconcile, then schedule. */
  onKeyState(state: NodeKeyState): void {
    if (this.stopped) return;
    if (this.isStale(state)) {
      this.d.log.debug({ controllerKey: state.wgKey }, 'a key event older than our last registered WireGuard key arrived late; ignored');
      return;
    }
    this.state = state;
    // While a rotation runs, its own answer settles the keys.
    if (this.running) return;
    void this.reconcile(state, true)
      .catch((err: unknown) => this.d.log.error({ err }, 'could not settle the WireGuard key with the controller'))
      .then(() => this.schedule());
  }

  /**
   * isStale: the state names a key that is neither ours nor pending, created before the key we
   * registered last. The controller published it before our registration (an identity renewal, say)
   * and the map stream delivered it after the registration's answer (key events wait behind map
   * applies there); taken as the truth, it would start a needless rotation right after ours.
   */
  private isStale(state: NodeKeyState): boolean {
    const id = this.d.identity.get();
    if (state.wgKey === id.wg.publicKey || state.wgKey === id.pendingWg?.publicKey) return false;
    return typeof id.wgKeyCreatedAt === 'number' && state.wgKeyCreatedAt < id.wgKeyCreatedAt;
  }

  /** reconcile makes our pairs agree with the key the controller holds. */
  private async reconcile(state: NodeKeyState, deviceUp: boolean): Promise<void> {
    const id = this.d.identity.get();
    const pending = id.pendingWg ?? null;
    if (pending && state.wgKey === pending.publicKey) {
      this.d.log.info('the controller holds the WireGuard key of an unfinished rotation; finishing it');
      if (deviceUp) await this.d.setDeviceKey(pending.privateKey);
      await this.commit(pending, state.wgKeyCreatedAt);
      return;
    }
    if (pending && state.wgKey === id.wg.publicKey) {
      this.d.log.info('the controller kept the previous WireGuard key; dropping the unregistered one');
      await this.d.identity.update((i) => ({ ...i, pendingWg: null }));
      return;
    }
    if (state.wgKey !== id.wg.publicKey) {
      this.d.log.error(
        { controllerKey: state.wgKey, localKey: id.wg.publicKey },
        'the controller holds a WireGuard key this node does not have (identity.json was replaced?); rotating to register one it has',
      );
      if (deviceUp) void this.rotate('requested');
    }
  }

  /** jitterMs is this key's own random advance on its due time, fixed per key. */
  private jitterMs(state: NodeKeyState): number {
    if (!this.jitter || this.jitter.createdAt !== state.wgKeyCreatedAt) {
      const spread = Math.min(state.rotationIntervalMs * JITTER_SHARE, MAX_JITTER_MS);
      this.jitter = { createdAt: state.wgKeyCreatedAt, ms: Math.floor(this.random() * spread) };
    }
    return this.jitter.ms;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** schedule arms one timer for the next rotation: a request or a due key now, else at its due time. */
  private schedule(): void {
    this.clearTimer();
    if (this.stopped || !this.state || this.running) return;
    const at = this.nextRotationAt!;
    const delay = Math.max(0, at - this.now());
    const reason: WgKeyRotationReason = this.state.rotateRequestedAt !== null ? 'requested' : 'scheduled';
    this.timer = setTimeout(() => void this.rotate(reason), Math.min(delay, MAX_TIMER_MS));
    this.timer.unref();
  }

  /** rotate runs one rotation (joining one already running) and schedules the next step. */
  rotate(reason: WgKeyRotationReason): Promise<RotationRecord | null> {
    if (this.running) return this.running;
    this.clearTimer();
    this.running = this.rotateOnce(reason)
      .catch((err: unknown) => this.failed(reason, this.now(), `rotation broke off: ${(err as Error).message}`))
      .finally(() => {
        this.running = null;
        this.schedule();
      });
    return this.running;
  }

  private async rotateOnce(reason: WgKeyRotationReason): Promise<RotationRecord | null> {
    const { identity, log } = this.d;
    const id = identity.get();
    if (id.nodeId === null || this.stopped) return null;
    if (!this.d.connected()) {
      // Peers learn a key only through the controller; without it the device would stall for nothing.
      this.retryLater('the controller is not connected');
      return null;
    }
    if (id.pendingWg) {
      // An earlier attempt's answer was lost: settle it first, or its key could never be found again.
      try {
        await this.reconcile(await this.d.fetchState(), true);
      } catch (err) {
        this.retryLater(`an earlier rotation is unsettled and the controller cannot say which key it holds (${(err as Error).message})`);
        return null;
      }
      if (identity.get().pendingWg || identity.get().wg.publicKey !== id.wg.publicKey) return null;
    }
    try {
      await this.d.lease();
    } catch (err) {
      if (isRefusal(err) && err.code === ErrorCode.ROTATION_BUSY) {
        // Not a failure: a peer is between keys right now. Go right after it, at a random moment.
        this.retryAt = this.now() + BUSY_RETRY_MS + Math.floor(this.random() * BUSY_RETRY_MS);
        log.debug('a peer is rotating its WireGuard key; trying again shortly');
        return null;
      }
      return this.failed(reason, this.now(), `the controller gave no rotation lease: ${(err as Error).message}`);
    }
    const old = id.wg;
    const next = { ...generateWgKeyPair(), createdAt: this.now(), reason };
    const started = this.now();
    try {
      await identity.update((i) => ({ ...i, pendingWg: next }));
    } catch (err) {
      return this.failed(reason, started, `could not write identity.json: ${(err as Error).message}`);
    }
    if (!(await this.d.setDeviceKey(next.privateKey))) {
      await identity.update((i) => ({ ...i, pendingWg: null })).catch(() => undefined);
      await this.d.setDeviceKey(old.privateKey);
      return this.failed(reason, started, 'the device did not take the new private key');
    }
    let state: NodeKeyState;
    try {
      state = await this.d.register(next.publicKey, reason);
    } catch (err) {
      const why = (err as Error).message;
      if (!isRefusal(err)) {
        // The answer is lost, not a refusal: the controller may have the key. Ask before undoing.
        try {
          state = await this.d.fetchState();
        } catch {
          await this.d.setDeviceKey(old.privateKey);
          log.warn({ err: why }, 'WireGuard key registration got no answer; back on the previous key, the new one stays pending until the controller says which it holds');
          return this.failed(reason, started, why);
        }
        if (state.wgKey !== next.publicKey) {
          await this.undo(old.privateKey);
          return this.failed(reason, started, why);
        }
      } else {
        await this.undo(old.privateKey);
        return this.failed(reason, started, why);
      }
    }
    const registrationMs = this.now() - started;
    await this.commit(next, state.wgKeyCreatedAt);
    this.state = state;
    this.retryMs = RETRY_MIN_MS;
    this.retryAt = null;
    this._last = { at: this.now(), reason, outcome: 'rotated', registrationMs };
    log.info({ reason, registrationMs }, 'WireGuard key rotated');
    return this._last;
  }

  /** undo puts the previous private key back and forgets the refused pair. */
  private async undo(oldPrivateKey: string): Promise<void> {
    await this.d.setDeviceKey(oldPrivateKey);
    await this.d.identity.update((i) => ({ ...i, pendingWg: null })).catch((err: unknown) => this.d.log.error({ err }, 'could not clear the pending WireGuard key'));
  }

  private async commit(pair: { privateKey: string; publicKey: string }, createdAt: number): Promise<void> {
    await this.d.identity.update((i) => ({ ...i, wg: { privateKey: pair.privateKey, publicKey: pair.publicKey }, wgKeyCreatedAt: createdAt, pendingWg: null }));
    this.d.onKeyChanged(pair.publicKey, createdAt);
  }

  private failed(reason: WgKeyRotationReason, started: number, error: string): RotationRecord {
    this._last = { at: this.now(), reason, outcome: 'failed', registrationMs: this.now() - started, error };
    this.d.log.warn({ reason, err: error }, 'WireGuard key rotation failed; the previous key stays in use');
    this.retryLater(error);
    return this._last;
  }

  private retryLater(why: string): void {
    this.retryAt = this.now() + this.retryMs;
    this.d.log.debug({ retryInMs: this.retryMs, why }, 'WireGuard key rotation postponed');
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }
}
