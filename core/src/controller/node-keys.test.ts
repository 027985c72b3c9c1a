/**
 * The controller's key lifecycle over its real HTTP API: rotation registration and what peers'
 * maps carry, rotation requests seen on the node's stream, identity renewal, expiry, a lapsed
 * identity, the key settings, and bad input that changes nothing.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { SseParser, type SseEvent } from '../agent/sse-parser';
import { ed25519PrivateKey, generateIdentityKeyPair, generateWgKeyPair, type KeyPair } from '../auth/keys';
import { identityRenewalProof, signPossession, signRequest } from '../auth/signing';
import { applyMapResponse } from '../netmap/delta';
import type { MapResponse, NetworkMapData } from '../netmap/types';
import type { CreateKeyResponse, EnrollResponse, NodeKeyState, NodeView, RotateKeysResponse } from '../wire';
import { startController, type RunningController, type StartControllerOptions } from './controller';

const log = pino({ level: 'silent' });
const DAY = 86_400_000;
let dir: string;
const running: RunningController[] = [];
const closers: Array<() => void> = [];

async function start(extra: Partial<StartControllerOptions> = {}): Promise<RunningController> {
  const c = await startController({ listen: '127.0.0.1:0', dataDir: dir, log, batchWindowMs: 10, ...extra });
  running.push(c);
  return c;
}

interface TestNode {
  name: string;
  wg: KeyPair;
  identity: KeyPair;
  id?: string;
}
const makeNode = (name: string): TestNode => ({ name, wg: generateWgKeyPair(), identity: generateIdentityKeyPair() });

async function call(c: RunningController, method: string, url: string, opts: { headers?: Record<string, string>; body?: unknown; raw?: string } = {}) {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  } else if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${c.url}${url}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, json: () => (text ? JSON.parse(text) : null) as Record<string, unknown> };
}
const admin = (c: RunningController, method: string, url: string, body?: unknown) => call(c, method, url, { headers: { authorization: `Bearer ${c.adminToken}` }, body });
const signed = (c: RunningController, n: TestNode, method: 'GET' | 'POST', url: string, body?: unknown, key: KeyPair = n.identity, at = Date.now()) => {
  const raw = body === undefined ? '' : JSON.stringify(body);
  return call(c, method, url, { headers: signRequest(ed25519PrivateKey(key), n.id!, method, url, raw, at), raw: raw || undefined });
};
const codeOf = (res: { json(): Record<string, unknown> }) => (res.json().error as { code: string }).code;

async function enroll(c: RunningController, n: TestNode, keyBody: Record<string, unknown> = {}): Promise<EnrollResponse> {
  const key = (await admin(c, 'POST', '/v1/admin/keys', { reusable: true, ...keyBody })).json() as unknown as CreateKeyResponse;
  const raw = JSON.stringify({ authKey: key.key, name: n.name, hostname: n.name, wgKey: n.wg.publicKey, identityKey: n.identity.publicKey, endpoints: ['127.0.0.1:51820'] });
  const res = await call(c, 'POST', '/v1/enroll', { raw, headers: signPossession(ed25519PrivateKey(n.identity), 'POST', '/v1/enroll', raw) });
  expect(res.status).toBe(200);
  const out = res.json() as unknown as EnrollResponse;
  n.id = out.nodeId;
  return out;
}

/** openStream follows a node's map stream, applying map events and collecting key events. */
function openStream(c: RunningController, n: TestNode) {
  const path = '/v1/map/stream';
  const maps: NetworkMapData[] = [];
  const keys: NodeKeyState[] = [];
  let current: NetworkMapData | null = null;
  const req = httpRequest(`${c.url}${path}`, { headers: signRequest(ed25519PrivateKey(n.identity), n.id!, 'GET', path, '') }, (res) => {
    const parser = new SseParser();
    res.on('data', (chunk: Buffer) => {
      for (const e of parser.push(chunk) as SseEvent[]) {
        if (e.event === 'map') {
          current = applyMapResponse(current, JSON.parse(e.data) as MapResponse);
          maps.push(current);
        } else if (e.event === 'key') keys.push(JSON.parse(e.data) as NodeKeyState);
      }
    });
    res.on('error', () => undefined);
  });
  req.on('error', () => undefined);
  req.end();
  closers.push(() => req.destroy());
  const until = async <T>(what: string, fn: () => T | null | undefined | false, ms = 3000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = fn();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { maps, keys, map: () => current, until };
}

/** A read-only look at every table, to prove a refused request changed nothing. */
function snapshot(): string {
  const db = new Database(join(dir, 'trellis.db'), { readonly: true });
  try {
    // last_seen is presence (any signed request moves it), not state a refusal could change.
    const rows = (t: string) => (db.prepare(`SELECT * FROM ${t} ORDER BY 1`).all() as Array<Record<string, unknown>>).map(({ last_seen: _seen, ...r }) => r);
    return ['nodes', 'node_keys', 'auth_keys', 'meta', 'audit'].map((t) => JSON.stringify(rows(t))).join('\n');
  } finally {
    db.close();
  }
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-keys-ctl-'));
});
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  for (const c of running.splice(0)) await c.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('WireGuard key rotation', () => {
  it('registers a rotated key: peers\' maps carry it, the node\'s stream hears it, the key age restarts', async () => {
    const c = await start({ keySettings: { keyRotation: { default: '7d', tags: { 'tag:fast': '1h' } } } });
    const a = makeNode('a');
    const b = makeNode('b');
    await enroll(c, a, { tags: ['tag:fast'] });
    await enroll(c, b);
    const aStream = openStream(c, a);
    const bStream = openStream(c, b);
    const first = await aStream.until('a key event', () => aStream.keys[0]);
    expect(first).toMatchObject({ wgKey: a.wg.publicKey, rotationIntervalMs: 3_600_000, rotateRequestedAt: null, identityLifetimeMs: 90 * DAY });
    expect(first.rotationDueAt).toBe(first.wgKeyCreatedAt + 3_600_000);
    await bStream.until('b sees a', () => bStream.map()?.peers.some((p) => p.name === 'a'));

    const k2 = generateWgKeyPair();
    const res = await signed(c, a, 'POST', '/v1/node/keys/wireguard', { wgKey: k2.publicKey, reason: 'scheduled' });
    expect(res.status).toBe(200);
    const state = res.json() as unknown as NodeKeyState;
    expect(state.wgKey).toBe(k2.publicKey);
    expect(state.wgKeyCreatedAt).toBeGreaterThanOrEqual(first.wgKeyCreatedAt);

    const started = Date.now();
    await bStream.until('b gets a\'s new key', () => bStream.map()?.peers.find((p) => p.name === 'a')?.wgKey === k2.publicKey);
    expect(Date.now() - started).toBeLessThan(1000);
    await aStream.until('a hears its new key', () => aStream.keys.find((k) => k.wgKey === k2.publicKey));
    expect(((await signed(c, a, 'GET', '/v1/node/keys')).json() as unknown as NodeKeyState).wgKey).toBe(k2.publicKey);

    const nodes = (await admin(c, 'GET', '/v1/admin/nodes')).json() as unknown as NodeView[];
    const view = nodes.find((n) => n.name === 'a')!;
    expect(view).toMatchObject({ wgKey: k2.publicKey, wgKeyCreatedAt: state.wgKeyCreatedAt, keyRotationIntervalMs: 3_600_000 });
    expect(nodes.find((n) => n.name === 'b')!.keyRotationIntervalMs).toBe(7 * DAY);
    const audit = (await admin(c, 'GET', '/v1/admin/audit')).json() as unknown as Array<{ action: string; details: Record<string, unknown> }>;
    expect(audit.find((e) => e.action === 'node.key.rotated')?.details).toMatchObject({ name: 'a', reason: 'scheduled', key: k2.publicKey, previousKey: a.wg.publicKey });

    // The posture facts the controller keeps say the key is new, whatever the node reports.
    expect((await signed(c, a, 'POST', '/v1/node/facts', { facts: { wgKey: { createdAt: 1 } } })).status).toBe(200);
    const after = ((await admin(c, 'GET', '/v1/admin/nodes')).json() as unknown as NodeView[]).find((n) => n.name === 'a')!;
    expect(after.facts?.wgKey).toEqual({ createdAt: state.wgKeyCreatedAt });

    // Metrics: the key age restarted and one rotation was counted.
    const collected = await collectMetrics(c);
    expect(collected.rotations).toEqual([{ value: 1, attributes: { reason: 'scheduled' } }]);
    expect(collected.ages.find((p) => p.attributes.node === 'a')!.value).toBeLessThan(5);
  });

  it('refuses bad keys with a clear code and changes nothing', async () => {
    const c = await start();
    const a = makeNode('a');
    const b = makeNode('b');
    await enroll(c, a);
    await enroll(c, b);
    const k2 = generateWgKeyPair();
    expect((await signed(c, a, 'POST', '/v1/node/keys/wireguard', { wgKey: k2.publicKey, reason: 'requested' })).status).toBe(200);
    const before = snapshot();
    const tries: Array<[unknown, number, string]> = [
      [{ wgKey: 'not-a-key', reason: 'scheduled' }, 400, 'TRELLIS_ERR_BAD_REQUEST'],
      [{ wgKey: `${'A'.repeat(43)}`, reason: 'scheduled' }, 400, 'TRELLIS_ERR_BAD_REQUEST'],
      [{ wgKey: generateWgKeyPair().publicKey, reason: 'because' }, 400, 'TRELLIS_ERR_BAD_REQUEST'],
      [{ wgKey: generateWgKeyPair().publicKey }, 400, 'TRELLIS_ERR_BAD_REQUEST'],
      [{ wgKey: b.wg.publicKey, reason: 'scheduled' }, 409, 'TRELLIS_ERR_KEY_IN_USE'],
      [{ wgKey: a.wg.publicKey, reason: 'scheduled' }, 409, 'TRELLIS_ERR_KEY_RETIRED'],
    ];
    for (const [body, status, code] of tries) {
      const res = await signed(c, a, 'POST', '/v1/node/keys/wireguard', body);
      expect([res.status, codeOf(res)]).toEqual([status, code]);
    }
    // Refusals are audited as auth failures only when authentication failed; these were not.
    expect(snapshot()).toBe(before);
  });
});

describe('rotation leases', () => {
  it('one peer rotates at a time: a peer\'s lease holds until a second after its registration', async () => {
    const c = await start();
    const a = makeNode('a');
    const b = makeNode('b');
    await enroll(c, a);
    await enroll(c, b);
    expect((await signed(c, a, 'POST', '/v1/node/keys/wireguard/lease')).status).toBe(200);
    const busy = await signed(c, b, 'POST', '/v1/node/keys/wireguard/lease');
    expect([busy.status, codeOf(busy)]).toEqual([409, 'TRELLIS_ERR_ROTATION_BUSY']);
    expect(busy.json().error).toMatchObject({ message: expect.stringContaining('a peer of node "b" is rotating its WireGuard key; rotate again in') });
    expect((await signed(c, a, 'POST', '/v1/node/keys/wireguard', { wgKey: generateWgKeyPair().publicKey, reason: 'scheduled' })).status).toBe(200);
    expect((await signed(c, b, 'POST', '/v1/node/keys/wireguard/lease')).status).toBe(409);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await signed(c, b, 'POST', '/v1/node/keys/wireguard/lease')).status).toBe(200);
    const withBody = await signed(c, a, 'POST', '/v1/node/keys/wireguard/lease', {});
    expect([withBody.status, codeOf(withBody)]).toEqual([400, 'TRELLIS_ERR_BAD_REQUEST']);
  });
});

describe('rotation requests', () => {
  it('sets a flag the node sees on its stream; the rotation clears it', async () => {
    const c = await start();
    const a = makeNode('a');
    const b = makeNode('b');
    await enroll(c, a);
    await enroll(c, b);
    const aStream = openStream(c, a);
    await aStream.until('first key event', () => aStream.keys[0]);
    const res = await admin(c, 'POST', '/v1/admin/node-keys/rotate', { node: 'a' });
    expect(res.status).toBe(200);
    const body = res.json() as unknown as RotateKeysResponse;
    expect(body.requested.map((r) => [r.name, r.online])).toEqual([['a', true]]);
    const flagged = await aStream.until('rotation request', () => aStream.keys.find((k) => k.rotateRequestedAt !== null));
    expect(flagged.rotateRequestedAt).toBe(body.requested[0].rotateRequestedAt);

    const k2 = generateWgKeyPair();
    expect((await signed(c, a, 'POST', '/v1/node/keys/wireguard', { wgKey: k2.publicKey, reason: 'requested' })).status).toBe(200);
    const cleared = await aStream.until('flag cleared', () => aStream.keys.find((k) => k.wgKey === k2.publicKey));
    expect(cleared.rotateRequestedAt).toBeNull();

    // No node named: every live node.
    const all = (await admin(c, 'POST', '/v1/admin/node-keys/rotate')).json() as unknown as RotateKeysResponse;
    expect(all.requested.map((r) => r.name).sort()).toEqual(['a', 'b']);
  });

  it('refuses an unknown or revoked node and changes nothing', async () => {
    const c = await start();
    const a = makeNode('a');
    await enroll(c, a);
    expect((await admin(c, 'POST', '/v1/admin/nodes/a/revoke')).status).toBe(200);
    const b = makeNode('b');
    await enroll(c, b);
    const before = snapshot();
    const unknown = await admin(c, 'POST', '/v1/admin/node-keys/rotate', { node: 'nope' });
    expect([unknown.status, codeOf(unknown)]).toEqual([404, 'TRELLIS_ERR_NOT_FOUND']);
    const revoked = await admin(c, 'POST', '/v1/admin/node-keys/rotate', { node: 'a' });
    expect([revoked.status, codeOf(revoked)]).toEqual([409, 'TRELLIS_ERR_NODE_NOT_LIVE']);
    expect(revoked.json().error).toMatchObject({ message: expect.stringContaining('node "a" is revoked') });
    const extra = await admin(c, 'POST', '/v1/admin/node-keys/rotate', { node: 'b', now: true });
    expect([extra.status, codeOf(extra)]).toEqual([400, 'TRELLIS_ERR_BAD_REQUEST']);
    expect(snapshot()).toBe(before);
  });
});

describe('identity renewal', () => {
  it('switches the node to a new identity key with a new lifetime; the old key is refused', async () => {
    const c = await start({ keySettings: { identityLifetime: '30d' } });
    const a = makeNode('a');
    await enroll(c, a);
    const before = (await signed(c, a, 'GET', '/v1/node/keys')).json() as unknown as NodeKeyState;
    expect(before.identityExpiresAt! - Date.now()).toBeGreaterThan(29 * DAY);
    const next = generateIdentityKeyPair();
    const proof = identityRenewalProof(ed25519PrivateKey(next), a.id!, a.identity.publicKey, next.publicKey);
    const res = await signed(c, a, 'POST', '/v1/node/keys/identity', { identityKey: next.publicKey, proof });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ identityKey: next.publicKey, identityLifetimeMs: 30 * DAY });
    const old = await signed(c, a, 'GET', '/v1/node/keys');
    expect([old.status, codeOf(old)]).toEqual([401, 'TRELLIS_ERR_AUTH_BAD_SIGNATURE']);
    const now = await signed(c, a, 'GET', '/v1/node/keys', undefined, next);
    expect(now.status).toBe(200);
    expect((now.json() as unknown as NodeKeyState).identityExpiresAt).toBeGreaterThanOrEqual(before.identityExpiresAt!);
  });

  it('refuses a proof not made with the new key, changing nothing', async () => {
    const c = await start();
    const a = makeNode('a');
    await enroll(c, a);
    const next = generateIdentityKeyPair();
    const before = snapshot();
    const forged = identityRenewalProof(ed25519PrivateKey(a.identity), a.id!, a.identity.publicKey, next.publicKey);
    const res = await signed(c, a, 'POST', '/v1/node/keys/identity', { identityKey: next.publicKey, proof: forged });
    expect([res.status, codeOf(res)]).toEqual([400, 'TRELLIS_ERR_BAD_REQUEST']);
    expect(snapshot()).toBe(before);
  });

  it('a node away past its identity lifetime is expired and refused with a clear code', async () => {
    let now = Date.now();
    const clock = () => now;
    let c = await start({ clock, keySettings: { identityLifetime: '1h' } });
    const a = makeNode('a');
    const b = makeNode('b');
    await enroll(c, a);
    await enroll(c, b);
    await c.close();
    running.splice(running.indexOf(c), 1);
    // b renews in time; a does not.
    now += 30 * 60_000;
    c = await start({ clock, keySettings: { identityLifetime: '1h' } });
    const next = generateIdentityKeyPair();
    const proof = identityRenewalProof(ed25519PrivateKey(next), b.id!, b.identity.publicKey, next.publicKey);
    expect((await signed(c, b, 'POST', '/v1/node/keys/identity', { identityKey: next.publicKey, proof }, b.identity, now)).status).toBe(200);
    b.identity = next;
    await c.close();
    running.splice(running.indexOf(c), 1);
    now += 31 * 60_000;
    c = await start({ clock, keySettings: { identityLifetime: '1h' } });
    const refused = await call(c, 'GET', '/v1/node/keys', { headers: signRequest(ed25519PrivateKey(a.identity), a.id!, 'GET', '/v1/node/keys', '', now) });
    expect([refused.status, codeOf(refused)]).toEqual([403, 'TRELLIS_ERR_IDENTITY_EXPIRED']);
    expect(refused.json().error).toMatchObject({ message: expect.stringMatching(/identity credential expired .*re-enroll/) });
    expect(c.streamer.currentMap(a.id!)).toBeNull();
    expect(c.streamer.currentMap(b.id!)!.peers).toEqual([]);
    const ok = await call(c, 'GET', '/v1/node/keys', { headers: signRequest(ed25519PrivateKey(b.identity), b.id!, 'GET', '/v1/node/keys', '', now) });
    expect(ok.status).toBe(200);
    const audit = (await admin(c, 'GET', '/v1/admin/audit')).json() as unknown as Array<{ action: string; target: string }>;
    expect(audit.filter((e) => e.action === 'node.identity.expired').map((e) => e.target)).toEqual([a.id]);
  });

  it('arms the lapse of a node enrolled while running without listing every node, and expires it on time', async () => {
    const c = await start({ keySettings: { identityLifetime: '10s' } });
    const listNodes = jest.spyOn(c.store, 'listNodes');
    const nodes = ['a', 'b', 'c'].map(makeNode);
    for (const n of nodes) await enroll(c, n);
    // Enrolment is incremental all the way: no listing of the store (it made enrolment quadratic).
    expect(listNodes).not.toHaveBeenCalled();
    expect(c.streamer.currentMap(nodes[0]!.id!)!.peers).toHaveLength(2);
    // Nobody renews: at the first lapse every node has left the mesh.
    await new Promise((r) => setTimeout(r, 10_500));
    for (const n of nodes) expect(c.streamer.currentMap(n.id!)).toBeNull();
    const audit = (await admin(c, 'GET', '/v1/admin/audit')).json() as unknown as Array<{ action: string; target: string }>;
    expect(audit.filter((e) => e.action === 'node.identity.expired').map((e) => e.target).sort()).toEqual(nodes.map((n) => n.id).sort());
  }, 30_000);
});

describe('node key expiry', () => {
  it('expires a node now: it leaves every map and its requests are refused', async () => {
    const c = await start();
    const a = makeNode('a');
    const b = makeNode('b');
    await enroll(c, a);
    await enroll(c, b);
    const bStream = openStream(c, b);
    await bStream.until('b sees a', () => bStream.map()?.peers.some((p) => p.name === 'a'));
    const started = Date.now();
    const res = await admin(c, 'POST', '/v1/admin/nodes/a/expire');
    expect(res.status).toBe(200);
    expect((res.json() as unknown as NodeView).expiresAt).toBeLessThanOrEqual(Date.now());
    await bStream.until('a leaves b\'s map', () => bStream.map()?.peers.every((p) => p.name !== 'a'));
    expect(Date.now() - started).toBeLessThan(2000);
    const refused = await signed(c, a, 'GET', '/v1/node/keys');
    expect([refused.status, codeOf(refused)]).toEqual([403, 'TRELLIS_ERR_NODE_EXPIRED']);
    const again = await admin(c, 'POST', '/v1/admin/nodes/a/expire', { at: Date.now() + DAY });
    expect([again.status, codeOf(again)]).toEqual([409, 'TRELLIS_ERR_NODE_NOT_LIVE']);
  });

  it('expires a node at a later time', async () => {
    const c = await start();
    const a = makeNode('a');
    const b = makeNode('b');
    await enroll(c, a);
    await enroll(c, b);
    const bStream = openStream(c, b);
    await bStream.until('b sees a', () => bStream.map()?.peers.some((p) => p.name === 'a'));
    const at = Date.now() + 600;
    expect((await admin(c, 'POST', '/v1/admin/nodes/a/expire', { at })).status).toBe(200);
    expect(bStream.map()?.peers.some((p) => p.name === 'a')).toBe(true);
    await bStream.until('a leaves at its expiry', () => bStream.map()?.peers.every((p) => p.name !== 'a'), 3000);
    expect(Date.now()).toBeGreaterThanOrEqual(at);
  });

  it('refuses a past, malformed or far expiry and an unknown node, changing nothing', async () => {
    const c = await start();
    const a = makeNode('a');
    await enroll(c, a);
    const before = snapshot();
    const tries: Array<[string, unknown, number, string]> = [
      ['a', { at: Date.now() - 60_000 }, 400, 'TRELLIS_ERR_BAD_REQUEST'],
      ['a', { at: 'tomorrow' }, 400, 'TRELLIS_ERR_BAD_REQUEST'],
      ['a', { at: 1.5 }, 400, 'TRELLIS_ERR_BAD_REQUEST'],
      ['a', { at: Date.now() + 11 * 365 * DAY }, 400, 'TRELLIS_ERR_BAD_REQUEST'],
      ['a', { when: 1 }, 400, 'TRELLIS_ERR_BAD_REQUEST'],
      ['nope', undefined, 404, 'TRELLIS_ERR_NOT_FOUND'],
    ];
    for (const [name, body, status, code] of tries) {
      const res = await admin(c, 'POST', `/v1/admin/nodes/${name}/expire`, body);
      expect([name, res.status, codeOf(res)]).toEqual([name, status, code]);
    }
    const past = await admin(c, 'POST', '/v1/admin/nodes/a/expire', { at: Date.now() - 60_000 });
    expect(past.json().error).toMatchObject({ message: expect.stringContaining('is in the past') });
    expect(snapshot()).toBe(before);
  });
});

describe('key settings', () => {
  it.each([
    [{ keyRotation: { default: '0s' } }, /keyRotation\.default "0s" is out of range/],
    [{ keyRotation: { default: '-5d' } }, /keyRotation\.default "-5d" is not a duration/],
    [{ keyRotation: { default: 30 } }, /keyRotation\.default 30 is not a duration; write a number with a unit/],
    [{ keyRotation: { tags: { 'tag:x': '0d' } } }, /keyRotation\.tags\.tag:x "0d" is out of range/],
    [{ keyRotation: { every: '1d' } }, /keyRotation\.every is not a known setting/],
    [{ keyExpiry: { default: 'soon' } }, /keyExpiry\.default "soon" is not a duration/],
    [{ identityLifetime: '1s' }, /identityLifetime "1s" is out of range; use from 10s to 3650d/],
  ])('refuses %j before anything is written', async (settings, message) => {
    await expect(start({ keySettings: settings })).rejects.toMatchObject({ code: 'TRELLIS_ERR_CONFIG_INVALID', message: expect.stringMatching(message) });
    expect(existsSync(join(dir, 'trellis.db'))).toBe(false);
  });

  it('takes the expiry of a new node from its tag', async () => {
    const c = await start({ keySettings: { keyExpiry: { default: 'never', tags: { 'tag:short': '2h' } } } });
    const a = makeNode('a');
    const b = makeNode('b');
    await enroll(c, a, { tags: ['tag:short'] });
    await enroll(c, b);
    const nodes = (await admin(c, 'GET', '/v1/admin/nodes')).json() as unknown as NodeView[];
    const exp = nodes.find((n) => n.name === 'a')!.expiresAt!;
    expect(exp - nodes.find((n) => n.name === 'a')!.createdAt).toBe(2 * 3_600_000);
    expect(nodes.find((n) => n.name === 'b')!.expiresAt).toBeNull();
  });
});

interface Point {
  value: number;
  attributes: Record<string, string>;
}

/** collectMetrics reads the controller's key instruments through its metrics reader. */
async function collectMetrics(c: RunningController): Promise<{ rotations: Point[]; ages: Point[] }> {
  const { resourceMetrics } = await c.metrics.collect();
  const all = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  const points = (name: string): Point[] =>
    (all.find((m) => m.descriptor.name === name)?.dataPoints ?? []).map((p) => ({ value: p.value as number, attributes: p.attributes as Record<string, string> }));
  return { rotations: points('trellis_key_rotations_total'), ages: points('trellis_node_key_age_seconds') };
}
