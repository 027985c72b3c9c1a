import { promises as fs } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { KeyPair } from '../auth/keys';
import { errors } from '../errors';
import type { NodeKeyState } from '../wire';
import { ControllerRequestError } from './controller-client';
import { loadIdentity, newIdentity, type NodeIdentity } from './identity';
import { IdentityRenewer } from './identity-renewer';
import { IdentityState } from './identity-state';

const log = pino({ level: 'silent' });
const DAY = 86_400_000;

/** publicOf gives the base64 public key of an Ed25519 private KeyObject. */
const publicOf = (k: KeyObject) => Buffer.from((createPublicKey(k).export({ format: 'jwk' }) as { x: string }).x, 'base64url').toString('base64');

class FakeController {
  identityKey: string;
  expiresAt = Date.now() + 30 * DAY;
  mode: 'ok' | 'refuse' | 'lose-after-store' = 'ok';
  reachable = true;
  constructor(initial: string) {
    this.identityKey = initial;
  }
  state(): NodeKeyState {
    return {
      nodeId: 'n1',
      wgKey: 'w',
      wgKeyCreatedAt: 0,
      rotationIntervalMs: DAY,
      rotationDueAt: DAY,
      rotateRequestedAt: null,
      identityKey: this.identityKey,
      identityExpiresAt: this.expiresAt,
      identityLifetimeMs: 90 * DAY,
      expiresAt: null,
    };
  }
  async renew(current: string, next: KeyPair): Promise<NodeKeyState> {
    if (current !== this.identityKey) throw new ControllerRequestError('TRELLIS_ERR_AUTH_BAD_SIGNATURE', 'bad signature', 401);
    if (this.mode === 'refuse') throw new ControllerRequestError('TRELLIS_ERR_BAD_REQUEST', 'bad request: proof', 400);
    this.identityKey = next.publicKey;
    this.expiresAt = Date.now() + 90 * DAY;
    if (this.mode === 'lose-after-store') throw errors.controllerUnreachable('http://ctl', 'timed out');
    return this.state();
  }
  async fetch(key: KeyObject): Promise<NodeKeyState> {
    if (!this.reachable) throw errors.controllerUnreachable('http://ctl', 'connect ECONNREFUSED');
    if (publicOf(key) !== this.identityKey) throw new ControllerRequestError('TRELLIS_ERR_AUTH_BAD_SIGNATURE', 'bad signature', 401);
    return this.state();
  }
}

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'trellis-renewer-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function setup(over: Partial<NodeIdentity> = {}) {
  const id: NodeIdentity = { ...newIdentity('a', 'http://ctl'), nodeId: 'n1', ...over };
  const identity = new IdentityState(dir, id);
  await identity.update((i) => i);
  const ctl = new FakeController(id.identity.publicKey);
  const used: string[] = [];
  const renewer = new IdentityRenewer({
    identity,
    renew: (current, next) => ctl.renew(current, next),
    fetchState: (key) => ctl.fetch(key),
    useIdentity: (pair) => used.push(pair.publicKey),
    log,
  });
  return { id, identity, ctl, used, renewer };
}

describe('IdentityRenewer', () => {
  it('renews to a new key, persists it and signs with it from then on', async () => {
    const t = await setup();
    await t.renewer.renew();
    const saved = (await loadIdentity(dir))!;
    expect(saved.identity.publicKey).toBe(t.ctl.identityKey);
    expect(saved.identity.publicKey).not.toBe(t.id.identity.publicKey);
    expect(saved.pendingIdentity).toBeUndefined();
    expect(t.used).toEqual([saved.identity.publicKey]);
    expect(t.renewer.lastRenewal?.outcome).toBe('renewed');
    await t.renewer.stop();
  });

  it('schedules the renewal when a third of the lifetime is left', async () => {
    const t = await setup();
    t.renewer.onKeyState(t.ctl.state());
    expect(t.renewer.nextRenewalAt).toBe(t.ctl.expiresAt - 30 * DAY);
    await t.renewer.stop();
  });

  it('a key event published before its renewal and delivered after it does not renew again', async () => {
    const t = await setup();
    const stale = t.ctl.state();
    t.renewer.onKeyState(stale);
    await t.renewer.renew();
    const renewed = t.ctl.state();
    expect(t.used).toEqual([renewed.identityKey]);
    // A key rotation's event (our previous identity key and expiry, due for renewal) arrives late on the map stream.
    t.renewer.onKeyState(stale);
    await new Promise((r) => setTimeout(r, 50));
    expect(t.used).toEqual([renewed.identityKey]);
    expect(t.renewer.expiresAt).toBe(renewed.identityExpiresAt);
    expect(t.renewer.nextRenewalAt).toBe(renewed.identityExpiresAt! - renewed.identityLifetimeMs / 3);
    expect((await loadIdentity(dir))!.identity.publicKey).toBe(renewed.identityKey);
    await t.renewer.stop();
  });

  it('a refusal keeps the current identity and forgets the offered key', async () => {
    const t = await setup();
    t.ctl.mode = 'refuse';
    await t.renewer.renew();
    const saved = (await loadIdentity(dir))!;
    expect(saved.identity).toEqual(t.id.identity);
    expect(saved.pendingIdentity).toBeUndefined();
    expect(t.used).toEqual([]);
    expect(t.renewer.lastRenewal).toMatchObject({ outcome: 'failed' });
    await t.renewer.stop();
  });

  it('a lost answer is settled by which key the controller accepts', async () => {
    const t = await setup();
    t.ctl.mode = 'lose-after-store';
    t.ctl.reachable = false;
    await t.renewer.renew();
    expect((await loadIdentity(dir))!.pendingIdentity?.publicKey).toBe(t.ctl.identityKey);
    expect(t.used).toEqual([]);
    // Later (or at the next start) the controller answers: the old key no longer verifies.
    t.ctl.reachable = true;
    await t.renewer.resolvePending();
    const saved = (await loadIdentity(dir))!;
    expect(saved.identity.publicKey).toBe(t.ctl.identityKey);
    expect(saved.pendingIdentity).toBeUndefined();
    expect(t.used).toEqual([t.ctl.identityKey]);
    await t.renewer.stop();
  });
});
