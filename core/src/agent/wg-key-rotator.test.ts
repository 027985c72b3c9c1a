import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { generateWgKeyPair } from '../auth/keys';
import { errors } from '../errors';
import type { NodeKeyState, WgKeyRotationReason } from '../wire';
import { ControllerRequestError } from './controller-client';
import { loadIdentity, newIdentity, type NodeIdentity } from './identity';
import { IdentityState } from './identity-state';
import { WgKeyRotator } from './wg-key-rotator';

const log = pino({ level: 'silent' });
const HOUR = 3_600_000;

/** The controller as the rotator sees it: the key it holds, and how it answers. */
class FakeController {
  wgKey: string;
  createdAt = 1000;
  answer: 'ok' | 'refuse' | 'lose-after-store' | 'unreachable' = 'ok';
  busy = false;
  leases = 0;
  reachable = true;
  registered: Array<{ wgKey: string; reason: WgKeyRotationReason }> = [];
  constructor(
    initial: string,
    private readonly intervalMs = 24 * HOUR,
  ) {
    this.wgKey = initial;
  }
  state(over: Partial<NodeKeyState> = {}): NodeKeyState {
    return {
      nodeId: 'n1',
      wgKey: this.wgKey,
      wgKeyCreatedAt: this.createdAt,
      rotationIntervalMs: this.intervalMs,
      rotationDueAt: this.createdAt + this.intervalMs,
      rotateRequestedAt: null,
      identityKey: 'x',
      identityExpiresAt: null,
      identityLifetimeMs: 1,
      expiresAt: null,
      ...over,
    };
  }
  async lease(): Promise<{ until: number }> {
    this.leases++;
    if (this.busy) throw new ControllerRequestError('TRELLIS_ERR_ROTATION_BUSY', 'a peer of node "a" is rotating its WireGuard key; rotate again in 0.8 s', 409);
    return { until: Date.now() + 10_000 };
  }
  async register(wgKey: string, reason: WgKeyRotationReason): Promise<NodeKeyState> {
    this.registered.push({ wgKey, reason });
    if (this.answer === 'refuse') throw new ControllerRequestError('TRELLIS_ERR_KEY_IN_USE', 'this WireGuard or identity key already belongs to another node', 409);
    if (this.answer === 'unreachable') throw errors.controllerUnreachable('http://ctl', 'connect ECONNREFUSED');
    this.wgKey = wgKey;
    this.createdAt = Date.now();
    if (this.answer === 'lose-after-store') throw errors.controllerUnreachable('http://ctl', 'timed out');
    return this.state();
  }
  async fetch(): Promise<NodeKeyState> {
    if (!this.reachable) throw errors.controllerUnreachable('http://ctl', 'connect ECONNREFUSED');
    return this.state();
  }
}

/** The device as the rotator sees it: the private key written last, and every write in order. */
class FakeDevice {
  writes: string[] = [];
  fail = false;
  constructor(public key: string) {}
  async set(k: string): Promise<boolean> {
    if (this.fail) return false;
    this.writes.push(k);
    this.key = k;
    return true;
  }
}

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'trellis-rotator-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function setup(over: Partial<NodeIdentity> = {}) {
  const id: NodeIdentity = { ...newIdentity('a', 'http://ctl'), nodeId: 'n1', ...over };
  const identity = new IdentityState(dir, id);
  await identity.update((i) => i);
  const ctl = new FakeController(id.wg.publicKey);
  const device = new FakeDevice(id.wg.privateKey);
  const changed: string[] = [];
  const order: string[] = [];
  let connected = true;
  const rotator = new WgKeyRotator({
    identity,
    setDeviceKey: async (k) => {
      order.push('device');
      return device.set(k);
    },
    lease: async () => {
      order.push('lease');
      return ctl.lease();
    },
    register: async (k, r) => {
      order.push(`register (pending on disk: ${(await loadIdentity(dir))?.pendingWg?.publicKey === k})`);
      return ctl.register(k, r);
    },
    fetchState: () => ctl.fetch(),
    connected: () => connected,
    onKeyChanged: (pub) => changed.push(pub),
    log,
    random: () => 0,
  });
  return { id, identity, ctl, device, changed, order, rotator, setConnected: (v: boolean) => (connected = v) };
}

describe('WgKeyRotator', () => {
  it('rotates make before break: pending on disk, device switched, registered, then committed', async () => {
    const t = await setup();
    const rec = await t.rotator.rotate('requested');
    expect(rec).toMatchObject({ outcome: 'rotated', reason: 'requested' });
    expect(t.order).toEqual(['lease', 'device', 'register (pending on disk: true)']);
    const saved = (await loadIdentity(dir))!;
    expect(saved.wg.publicKey).toBe(t.ctl.wgKey);
    expect(saved.wg.publicKey).not.toBe(t.id.wg.publicKey);
    expect(saved.pendingWg).toBeUndefined();
    expect(saved.wgKeyCreatedAt).toBe(t.ctl.createdAt);
    expect(t.device.key).toBe(saved.wg.privateKey);
    expect(t.changed).toEqual([saved.wg.publicKey]);
    expect((await fs.stat(join(dir, 'identity.json'))).mode & 0o777).toBe(0o600);
    await t.rotator.stop();
  });

  it('a refused registration puts the old key back, forgets the new one and retries later', async () => {
    const t = await setup();
    t.ctl.answer = 'refuse';
    const before = Date.now();
    const rec = await t.rotator.rotate('scheduled');
    expect(rec).toMatchObject({ outcome: 'failed', error: expect.stringContaining('already belongs to another node') });
    expect(t.device.writes).toEqual([expect.any(String), t.id.wg.privateKey]);
    expect(t.device.key).toBe(t.id.wg.privateKey);
    const saved = (await loadIdentity(dir))!;
    expect(saved.wg).toEqual(t.id.wg);
    expect(saved.pendingWg).toBeUndefined();
    t.rotator.onKeyState(t.ctl.state());
    expect(t.rotator.nextRotationAt! - before).toBeGreaterThanOrEqual(5000);
    await t.rotator.stop();
  });

  it('a lost answer after the controller stored the key is settled by asking: the new key stays', async () => {
    const t = await setup();
    t.ctl.answer = 'lose-after-store';
    const rec = await t.rotator.rotate('scheduled');
    expect(rec?.outcome).toBe('rotated');
    expect((await loadIdentity(dir))!.wg.publicKey).toBe(t.ctl.wgKey);
    expect(t.device.key).not.toBe(t.id.wg.privateKey);
    await t.rotator.stop();
  });

  it('no answer and no controller: back on the old key, the new one pending until the controller says', async () => {
    const t = await setup();
    t.ctl.answer = 'lose-after-store';
    t.ctl.reachable = false;
    const rec = await t.rotator.rotate('scheduled');
    expect(rec?.outcome).toBe('failed');
    expect(t.device.key).toBe(t.id.wg.privateKey);
    const pending = (await loadIdentity(dir))!.pendingWg!;
    expect(pending.publicKey).toBe(t.ctl.wgKey);
    // The stream comes back and says the controller holds the pending key: switch and commit.
    t.ctl.reachable = true;
    t.rotator.onKeyState(t.ctl.state());
    for (let i = 0; i < 50 && (await loadIdentity(dir))!.pendingWg; i++) await new Promise((r) => setTimeout(r, 10));
    const saved = (await loadIdentity(dir))!;
    expect(saved.pendingWg).toBeUndefined();
    expect(saved.wg.publicKey).toBe(pending.publicKey);
    expect(t.device.key).toBe(pending.privateKey);
    await t.rotator.stop();
  });

  it('after a crash, start-up keeps the pair the controller holds', async () => {
    const pending = { ...generateWgKeyPair(), createdAt: 5, reason: 'scheduled' as const };
    const t = await setup({ pendingWg: pending });
    t.ctl.wgKey = pending.publicKey;
    await t.rotator.resolvePending();
    expect((await loadIdentity(dir))!.wg.publicKey).toBe(pending.publicKey);
    expect(t.device.writes).toEqual([]); // the device is not up yet: the caller configures it after

    const u = await setup({ pendingWg: { ...generateWgKeyPair(), createdAt: 5, reason: 'scheduled' } });
    await u.rotator.resolvePending();
    const kept = (await loadIdentity(dir))!;
    expect(kept.wg).toEqual(u.id.wg);
    expect(kept.pendingWg).toBeUndefined();
  });

  it('rotates when the controller says the key is due, and at once when an admin asked', async () => {
    const t = await setup();
    t.rotator.onKeyState(t.ctl.state({ rotationDueAt: Date.now() + 60 }));
    expect(t.ctl.registered).toEqual([]);
    for (let i = 0; i < 100 && t.ctl.registered.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(t.ctl.registered.map((r) => r.reason)).toEqual(['scheduled']);
    await new Promise((r) => setTimeout(r, 20));
    t.rotator.onKeyState(t.ctl.state({ rotateRequestedAt: Date.now() }));
    for (let i = 0; i < 100 && t.ctl.registered.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(t.ctl.registered.map((r) => r.reason)).toEqual(['scheduled', 'requested']);
    await t.rotator.stop();
  });

  it('a key event published before its registration and delivered after it starts no second rotation', async () => {
    const t = await setup();
    const stale = t.ctl.state();
    await new Promise((r) => setTimeout(r, 5));
    expect(await t.rotator.rotate('scheduled')).toMatchObject({ outcome: 'rotated' });
    const registered = t.ctl.state();
    const deviceKey = t.device.key;
    // The renewal's event (our previous key) arrives late on the map stream.
    t.rotator.onKeyState(stale);
    await new Promise((r) => setTimeout(r, 100));
    expect(t.ctl.registered.map((r) => r.reason)).toEqual(['scheduled']);
    expect(t.device.key).toBe(deviceKey);
    expect((await loadIdentity(dir))!.wg.publicKey).toBe(registered.wgKey);
    expect(t.rotator.controllerState).toEqual(registered);
    expect(t.rotator.nextRotationAt).toBe(registered.rotationDueAt);
    // A key the controller registered after ours that we do not have still makes us rotate.
    t.rotator.onKeyState({ ...registered, wgKey: generateWgKeyPair().publicKey, wgKeyCreatedAt: registered.wgKeyCreatedAt + 1 });
    for (let i = 0; i < 100 && t.ctl.registered.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(t.ctl.registered.map((r) => r.reason)).toEqual(['scheduled', 'requested']);
    await t.rotator.stop();
  });

  it('spreads scheduled rotations by at most 5% of the interval and an hour', async () => {
    const t = await setup();
    const r = new WgKeyRotator({
      identity: t.identity,
      setDeviceKey: async () => true,
      lease: () => t.ctl.lease(),
      register: (k, why) => t.ctl.register(k, why),
      fetchState: () => t.ctl.fetch(),
      connected: () => true,
      onKeyChanged: () => undefined,
      log,
      random: () => 0.999,
    });
    r.onKeyState(t.ctl.state({ rotationIntervalMs: 100_000, rotationDueAt: 2_000_000 }));
    expect(2_000_000 - r.nextRotationAt!).toBe(4995);
    r.onKeyState(t.ctl.state({ wgKeyCreatedAt: 7, rotationIntervalMs: 30 * 24 * HOUR, rotationDueAt: 9e12 }));
    expect(9e12 - r.nextRotationAt!).toBe(Math.floor(0.999 * HOUR));
    await r.stop();
  });

  it('waits for the controller instead of stalling the device for nothing', async () => {
    const t = await setup();
    t.setConnected(false);
    expect(await t.rotator.rotate('requested')).toBeNull();
    expect(t.device.writes).toEqual([]);
    expect(t.ctl.registered).toEqual([]);
    await t.rotator.stop();
  });

  it('while a peer rotates, waits its turn without touching the device, then rotates', async () => {
    const t = await setup();
    t.ctl.busy = true;
    t.rotator.onKeyState(t.ctl.state({ rotateRequestedAt: Date.now() }));
    for (let i = 0; i < 100 && t.ctl.leases === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(t.device.writes).toEqual([]);
    expect(t.rotator.last).toBeNull();
    const retry = t.rotator.nextRotationAt! - Date.now();
    expect(retry).toBeGreaterThan(300);
    expect(retry).toBeLessThanOrEqual(1400);
    t.ctl.busy = false;
    for (let i = 0; i < 300 && t.ctl.registered.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(t.ctl.registered.map((r) => r.reason)).toEqual(['requested']);
    await t.rotator.stop();
  });
});
