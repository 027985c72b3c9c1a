/**
 * NodeKeys is the controller's side of the key lifecycle: it registers rotated WireGuard keys and
 * renewed identity keys, asks nodes to rotate, sets node key expiry, turns a lapsed identity
 * credential into an expiry, and tells each node's open map streams what its keys are (`event:
 * key`). Every change is one store transaction with its audit entry, then the map pipeline and
 * the node's streams hear of it.
 */
import { ed25519PublicKey, isKey32 } from '../auth/keys';
import { verifyIdentityRenewalProof } from '../auth/signing';
import type { Facts } from '../api/hooks';
import { ErrorCode, TrellisError, errors } from '../errors';
import type { Logger } from '../log/logger';
import type { AuditEntry, NodeRecord, Store } from '../store/store';
import type { NodeKeyState, WgKeyRotationReason } from '../wire';
import { lifetimesFor, rotationIntervalFor, type KeyPolicy } from './key-policy';

const MAX_TIMER_MS = 2 ** 31 - 1;
/** A rotation lease not followed by a registration lapses after this long (the agent gives up after 5 s). */
const LEASE_MS = 10_000;
/** After a registration the lease holds this much longer, so peers apply the new key before one of them switches its own. */
const SETTLE_MS = 1_000;
/** An expiry this far in the past is a mistake, not clock skew between the CLI and the controller. */
const PAST_TOLERANCE_MS = 5_000;
const MAX_EXPIRY_AHEAD_MS = 10 * 365 * 86_400_000;

export interface NodeKeysDeps {
  store: Store;
  policy: KeyPolicy;
  clock: () => number;
  log: Logger;
  audit(entry: AuditEntry): Promise<void>;
  /** One node's map entry changed (key, expiry): rebuild what depends on it. */
  nodeChanged(nodeId: string, reason: string): void;
  /** End the node's open map streams (it left the mesh). */
  closeStreams(nodeId: string): void;
  isOnline(nodeId: string): boolean;
  /** Ids of the nodes that see this node (its peers; visibility is symmetric). */
  peersOf(nodeId: string): readonly string[];
  /** Decide posture again with facts whose key age changed; resolves when done. */
  reevaluatePosture(node: NodeRecord, facts: Facts): Promise<void>;
  nodeEvent(kind: 'key-rotated' | 'identity-renewed' | 'expired', node: NodeRecord, details: Record<string, unknown>): Promise<void>;
  /** Counts for metrics. */
  onRotated?(reason: WgKeyRotationReason): void;
  onRenewed?(): void;
}

/** What the key metrics read of one live node. */
export interface NodeKeyAge {
  name: string;
  ageMs: number;
  intervalMs: number;
}

type KeyListener = (state: NodeKeyState) => void;

export class NodeKeys {
  private readonly listeners = new Map<string, Set<KeyListener>>();
  private lapseTimer: NodeJS.Timeout | null = null;
  /** When the armed lapseTimer fires (Unix ms). */
  private lapseAt = Infinity;
  private sweeping: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly d: NodeKeysDeps) {}

  get policy(): KeyPolicy {
    return this.d.policy;
  }

  /** stateOf is the node's NodeKeyState as the controller holds it. */
  stateOf(node: NodeRecord): NodeKeyState {
    const wgKeyCreatedAt = node.wgKeyCreatedAt ?? node.createdAt;
    const rotationIntervalMs = rotationIntervalFor(this.d.policy, node.tags);
    return {
      nodeId: node.id,
      wgKey: node.wgKey,
      wgKeyCreatedAt,
      rotationIntervalMs,
      rotationDueAt: wgKeyCreatedAt + rotationIntervalMs,
      rotateRequestedAt: node.rotateRequestedAt ?? null,
      identityKey: node.identityKey,
      identityExpiresAt: node.identityExpiresAt ?? null,
      identityLifetimeMs: this.d.policy.identityLifetimeMs,
      expiresAt: node.expiresAt,
    };
  }

  /** start gives nodes enrolled before identity lifetimes existed one, and arms the lapse timer. */
  async start(): Promise<void> {
    const now = this.d.clock();
    const given = await this.d.store.giveIdentityLifetimes(() => now + this.d.policy.identityLifetimeMs, now);
    if (given > 0) {
      await this.d.audit({ action: 'settings.identity_lifetimes', actor: 'controller', details: { nodes: given, lifetimeMs: this.d.policy.identityLifetimeMs } });
      this.d.log.info({ nodes: given }, 'gave nodes enrolled before identity lifetimes a lifetime; their agents renew it');
    }
    await this.sweepLapsed();
  }

  close(): void {
    this.closed = true;
    if (this.lapseTimer) clearTimeout(this.lapseTimer);
    this.lapseTimer = null;
    this.listeners.clear();
  }

  /** lifetimes is what enrolment needs for a node with these tags. */
  lifetimes = (tags: readonly string[]) => lifetimesFor(this.d.policy, tags);

  /**
   * nodeEnrolled re-arms the lapse timer for a node that joined (or came back, or renewed) with
   * this identity expiry: earlier than the armed one, or none armed. No sweep: listing every node
   * on each enrolment made enrolment quadratic (at 10,000 nodes half the controller's CPU went to it).
   */
  nodeEnrolled(identityExpiresAt: number | null): void {
    if (identityExpiresAt === null) return;
    this.sweeping = this.sweeping.then(
      () => this.armLapse(identityExpiresAt),
      () => this.armLapse(identityExpiresAt),
    );
  }

  /** armLapse sets the lapse timer for `at` unless it is armed for an earlier time already. */
  private armLapse(at: number): void {
    if (this.closed || (this.lapseTimer && this.lapseAt <= at)) return;
    if (this.lapseTimer) clearTimeout(this.lapseTimer);
    this.lapseAt = at;
    this.lapseTimer = setTimeout(() => void this.sweepLapsed(), Math.min(MAX_TIMER_MS, Math.max(0, at - this.d.clock()) + 5));
    this.lapseTimer.unref();
  }

  /**
   * storeChanged: another controller sharing the store changed the node (enrolled it, renewed its
   * identity, rotated its key, set its expiry): arm the lapse timer for the node's identity expiry
   * and send its streams here the new key state. Only this node is read: a remote change can
   * bring a lapse earlier only through this node's own identity expiry, and listing the whole
   * store on every burst of remote changes cost the second controller O(N) per change.
   */
  storeChanged(nodeId: string): void {
    if (this.closed) return;
    this.d.store
      .getNode(nodeId)
      .then((node) => {
        if (!node || node.revoked || this.closed) return;
        if (node.expiresAt === null || node.expiresAt > this.d.clock()) this.nodeEnrolled(node.identityExpiresAt ?? null);
        this.publish(node);
      })
      .catch((err: unknown) => this.d.log.warn({ err, nodeId }, 'could not read a node another controller changed'));
  }

  /**
   * storeResynced: the store's change feed came back after a loss; changes made meanwhile were not
   * heard one by one, so one sweep of the whole store arms the next lapse afresh.
   */
  storeResynced(): Promise<void> {
    return this.sweepLapsed();
  }

  /**
   * attach registers a map stream of the node for `event: key` and sends it the current state at
   * once; the returned function detaches it.
   */
  attach(node: NodeRecord, send: KeyListener): () => void {
    let set = this.listeners.get(node.id);
    if (!set) this.listeners.set(node.id, (set = new Set()));
    set.add(send);
    send(this.stateOf(node));
    return () => {
      const s = this.listeners.get(node.id);
      if (!s) return;
      s.delete(send);
      if (s.size === 0) this.listeners.delete(node.id);
    };
  }

  private publish(node: NodeRecord): void {
    const set = this.listeners.get(node.id);
    if (!set) return;
    const state = this.stateOf(node);
    for (const send of set) {
      try {
        send(state);
      } catch (err) {
        this.d.log.warn({ err, node: node.name }, 'could not send the key state on a map stream');
      }
    }
  }

  /**
   * lease lets a node rotate now unless one of its peers is rotating: two peers switching keys at
   * once would each drop the packets waiting for the other (wireguard-go stages them on the peer
   * entry the other's new key replaces). Refused with ROTATION_BUSY; the agent tries again shortly.
   * The lease lives in the store: a peer may be connected to another controller sharing it.
   */
  async lease(node: NodeRecord): Promise<{ until: number }> {
    const now = this.d.clock();
    const outcome = await this.d.store.takeRotationLease(node.id, this.d.peersOf(node.id), now, now + LEASE_MS);
    if (!outcome.granted) throw errors.rotationBusy(node.name, outcome.busyUntil - now);
    return { until: outcome.until };
  }

  /**
   * rotateWgKey registers the WireGuard public key a node generated. The node already uses the
   * new private key; its peers switch as soon as their maps carry the new key.
   */
  async rotateWgKey(node: NodeRecord, wgKey: string, reason: WgKeyRotationReason): Promise<NodeKeyState> {
    if (!isKey32(wgKey)) throw errors.badRequest('body.wgKey is not base64 of a 32-byte WireGuard public key');
    if (wgKey === node.wgKey) return this.stateOf(node);
    const now = this.d.clock();
    const ageMs = now - (node.wgKeyCreatedAt ?? node.createdAt);
    const rotated = await this.d.store.rotateWgKey(node.id, wgKey, now, {
      at: now,
      action: 'node.key.rotated',
      actor: `node:${node.id}`,
      target: node.id,
      details: { name: node.name, reason, previousKey: node.wgKey, key: wgKey, previousKeyAgeMs: ageMs },
    });
    this.d.onRotated?.(reason);
    // The key is registered whatever happens to the settle time; a lost hold only shortens it.
    await this.d.store.holdRotationLease(node.id, now + SETTLE_MS).catch((err: unknown) => this.d.log.warn({ err, node: node.name }, 'could not hold the rotation lease for its settle time'));
    this.d.nodeChanged(node.id, `WireGuard key of ${node.name} rotated`);
    this.publish(rotated);
    this.d.log.info({ node: node.name, reason, previousKeyAgeMs: ageMs }, 'WireGuard key rotated');
    if (rotated.facts?.wgKey !== undefined) {
      // The key age the posture policy checks starts again with the new key.
      await this.d.reevaluatePosture(rotated, this.withKeyAge(rotated, rotated.facts)).catch((err: unknown) => this.d.log.error({ err, node: node.name }, 'posture re-evaluation after a key rotation failed'));
    }
    await this.d.nodeEvent('key-rotated', rotated, { reason, wgKeyCreatedAt: now, rotationIntervalMs: rotationIntervalFor(this.d.policy, rotated.tags), previousKeyAgeMs: ageMs });
    return this.stateOf(rotated);
  }

  /**
   * renewIdentity replaces the node's identity key and starts a new lifetime. The request was
   * signed with the current key; proof shows the node holds the new one.
   */
  async renewIdentity(node: NodeRecord, identityKey: string, proof: string): Promise<NodeKeyState> {
    if (!isKey32(identityKey)) throw errors.badRequest('body.identityKey is not base64 of a 32-byte Ed25519 public key');
    let publicKey;
    try {
      publicKey = ed25519PublicKey(identityKey);
    } catch {
      throw errors.badRequest('body.identityKey is not an Ed25519 public key');
    }
    if (!verifyIdentityRenewalProof(publicKey, node.id, node.identityKey, identityKey, proof)) {
      throw errors.badRequest('body.proof is not a signature by the new identity key over the renewal message; sign it with the new key');
    }
    const now = this.d.clock();
    const expiresAt = now + this.d.policy.identityLifetimeMs;
    const renewed = await this.d.store.renewIdentity(node.id, identityKey, expiresAt, now, {
      at: now,
      action: 'node.identity.renewed',
      actor: `node:${node.id}`,
      target: node.id,
      details: { name: node.name, previousKey: node.identityKey, key: identityKey, expiresAt, previousExpiresAt: node.identityExpiresAt ?? null },
    });
    this.d.onRenewed?.();
    this.publish(renewed);
    this.d.log.info({ node: node.name, expiresAt: new Date(expiresAt).toISOString() }, 'identity credential renewed');
    await this.d.nodeEvent('identity-renewed', renewed, { identityExpiresAt: expiresAt });
    // The expiry only moved later: a timer armed for the old one finds nothing when it fires and
    // arms the next lapse then, so a renewal lists no other node.
    this.nodeEnrolled(expiresAt);
    return this.stateOf(renewed);
  }

  /** requestRotation asks one live node (by name or id) or, with null, every live node to rotate now. */
  async requestRotation(name: string | null): Promise<Array<{ node: NodeRecord; online: boolean }>> {
    const now = this.d.clock();
    let ids: string[];
    if (name === null) {
      ids = (await this.d.store.listNodes()).filter((n) => !n.revoked && (n.expiresAt === null || n.expiresAt > now)).map((n) => n.id);
    } else {
      const found = await this.d.store.findNode(name);
      if (!found) throw errors.notFound(`node "${name}"`);
      ids = [found.id];
    }
    const nodes = await this.d.store.requestKeyRotation(ids, now, (n) => ({
      at: now,
      action: 'node.key.rotation_requested',
      actor: 'admin',
      target: n.id,
      details: { name: n.name, all: name === null },
    }));
    for (const n of nodes) this.publish(n);
    return nodes.map((node) => ({ node, online: this.d.isOnline(node.id) }));
  }

  /**
   * expire sets when a live node's key expires: absent or now means now (it leaves every map at
   * once); a time in the past or beyond ten years is refused.
   */
  async expire(name: string, at: number | undefined): Promise<NodeRecord> {
    const now = this.d.clock();
    if (at !== undefined) {
      if (!Number.isSafeInteger(at) || at < 0) throw errors.badRequest('body.at must be a Unix time in milliseconds');
      if (at < now - PAST_TOLERANCE_MS) {
        throw errors.badRequest(`body.at ${new Date(at).toISOString()} is in the past; leave it out to expire the node now, or give a later time`);
      }
      if (at > now + MAX_EXPIRY_AHEAD_MS) throw errors.badRequest(`body.at ${new Date(at).toISOString()} is more than ten years ahead`);
    }
    const found = await this.d.store.findNode(name);
    if (!found) throw errors.notFound(`node "${name}"`);
    const when = at === undefined ? now : Math.max(at, now);
    const node = await this.d.store.setNodeExpiry(found.id, when, now, {
      at: now,
      action: 'node.expiry.set',
      actor: 'admin',
      target: found.id,
      details: { name: found.name, expiresAt: when, previousExpiresAt: found.expiresAt, now: when <= now },
    });
    this.d.nodeChanged(node.id, `expiry of ${node.name} set`);
    this.publish(node);
    if (when <= now) await this.leave(node, 'expired by an admin');
    return node;
  }

  /** leave ends a node's streams once it left the mesh, and tells plugins. */
  private async leave(node: NodeRecord, reason: string): Promise<void> {
    this.d.closeStreams(node.id);
    await this.d.nodeEvent('expired', node, { reason });
  }

  /** sweepLapsed runs sweepOnce after any sweep already running, so two never interleave. */
  private sweepLapsed(): Promise<void> {
    this.sweeping = this.sweeping.then(
      () => this.sweepOnce(),
      () => this.sweepOnce(),
    );
    return this.sweeping;
  }

  /**
   * sweepOnce expires every live node whose identity credential lapsed (the node was away and did
   * not renew), then arms a timer for the next lapse.
   */
  private async sweepOnce(): Promise<void> {
    if (this.closed) return;
    if (this.lapseTimer) clearTimeout(this.lapseTimer);
    this.lapseTimer = null;
    const now = this.d.clock();
    let next = Infinity;
    for (const n of await this.d.store.listNodes()) {
      if (n.revoked || (n.expiresAt !== null && n.expiresAt <= now) || n.identityExpiresAt == null) continue;
      if (n.identityExpiresAt > now) {
        next = Math.min(next, n.identityExpiresAt);
        continue;
      }
      try {
        const expired = await this.d.store.setNodeExpiry(n.id, n.identityExpiresAt, now, {
          at: now,
          action: 'node.identity.expired',
          actor: 'controller',
          target: n.id,
          details: { name: n.name, identityExpiresAt: n.identityExpiresAt },
        });
        this.d.log.warn({ node: n.name, identityExpiresAt: new Date(n.identityExpiresAt).toISOString() }, 'identity credential lapsed without renewal; the node left the mesh and must enroll again');
        this.d.nodeChanged(n.id, `identity of ${n.name} lapsed`);
        await this.leave(expired, 'identity credential lapsed');
      } catch (err) {
        if (err instanceof TrellisError && err.code === ErrorCode.NODE_NOT_LIVE) {
          // Another controller sharing the store (or an admin) ended the node since it was listed:
          // that one audited it and told plugins; here its maps only have to catch up.
          this.d.log.debug({ node: n.name }, 'a lapsed identity was already expired elsewhere');
          this.d.nodeChanged(n.id, `identity of ${n.name} lapsed`);
          continue;
        }
        this.d.log.error({ err, node: n.name }, 'could not expire a node whose identity lapsed');
      }
    }
    if (this.closed || !Number.isFinite(next)) return;
    this.armLapse(next);
  }

  /**
   * withKeyAge puts the controller's own record of the key's creation where facts report one
   * (facts-host does), so the key age posture checks is the registered key's, whatever the node says.
   */
  withKeyAge(node: NodeRecord, facts: Facts): Facts {
    if (facts.wgKey === undefined) return facts;
    return { ...facts, wgKey: { createdAt: node.wgKeyCreatedAt ?? node.createdAt } };
  }

  /** eventDetails are the key figures node events carry, so an event store can show key ages. */
  eventDetails(node: NodeRecord): Record<string, unknown> {
    return { wgKeyCreatedAt: node.wgKeyCreatedAt ?? node.createdAt, rotationIntervalMs: rotationIntervalFor(this.d.policy, node.tags) };
  }

  /** keyAges lists every live node's key age and interval, for the metrics. */
  async keyAges(): Promise<NodeKeyAge[]> {
    const now = this.d.clock();
    return (await this.d.store.listNodes())
      .filter((n) => !n.revoked && (n.expiresAt === null || n.expiresAt > now))
      .map((n) => ({ name: n.name, ageMs: Math.max(0, now - (n.wgKeyCreatedAt ?? n.createdAt)), intervalMs: rotationIntervalFor(this.d.policy, n.tags) }));
  }
}
