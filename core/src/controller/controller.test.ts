import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { SseParser, type SseEvent } from '../agent/sse-parser';
import { ed25519PrivateKey, generateIdentityKeyPair, generateWgKeyPair, type KeyPair } from '../auth/keys';
import { signPossession, signRequest } from '../auth/signing';
import { applyMapResponse } from '../netmap/delta';
import type { DeltaMapResponse, MapResponse, NetworkMapData } from '../netmap/types';
import { hashSecret } from '../store/secret-hash';
import { startController, type RunningController, type StartControllerOptions } from './controller';
import type { CreateKeyResponse, EnrollResponse, NodeView } from '../wire';

const log = pino({ level: 'silent' });
let dir: string;
const running: RunningController[] = [];

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
/** Identity keys of the test nodes by public key, so enrolment requests can be signed with them. */
const identities = new Map<string, KeyPair>();
const makeNode = (name: string): TestNode => {
  const n = { name, wg: generateWgKeyPair(), identity: generateIdentityKeyPair() };
  identities.set(n.identity.publicKey, n.identity);
  return n;
};

/**
 * signEnrollment adds the proof-of-possession headers an agent sends with /v1/enroll: signed with
 * the identity key the body names (a throwaway key when the body names none the test made).
 */
function signEnrollment(body: string | undefined, headers: Record<string, string>): Record<string, string> {
  if (headers['x-trellis-signature'] !== undefined) return headers;
  let named: string | undefined;
  try {
    named = (JSON.parse(body ?? '') as { identityKey?: string }).identityKey;
  } catch {
    named = undefined;
  }
  const pair = (named !== undefined ? identities.get(named) : undefined) ?? generateIdentityKeyPair();
  return { ...headers, ...signPossession(ed25519PrivateKey(pair), 'POST', '/v1/enroll', body ?? '') };
}
const adminHeaders = (c: RunningController) => ({ authorization: `Bearer ${c.adminToken}` });

async function createKey(c: RunningController, body: Record<string, unknown> = {}): Promise<CreateKeyResponse> {
  const res = await call(c, { method: 'POST', url: '/v1/admin/keys', headers: adminHeaders(c), payload: body });
  expect(res.statusCode).toBe(200);
  return res.json() as CreateKeyResponse;
}

const enrollBody = (key: string, n: TestNode) => ({
  authKey: key,
  name: n.name,
  hostname: `${n.name}.local`,
  wgKey: n.wg.publicKey,
  identityKey: n.identity.publicKey,
  endpoints: ['127.0.0.1:51820'],
});

async function enroll(c: RunningController, key: string, n: TestNode) {
  const res = await call(c, { method: 'POST', url: '/v1/enroll', payload: enrollBody(key, n) });
  if (res.statusCode === 200) n.id = (res.json() as EnrollResponse).nodeId;
  return res;
}

function signedInject(c: RunningController, n: TestNode, method: 'GET' | 'POST', url: string, body?: unknown, now = Date.now()) {
  const raw = body === undefined ? '' : JSON.stringify(body);
  const headers: Record<string, string> = signRequest(ed25519PrivateKey(n.identity), n.id!, method, url, raw, now);
  if (raw) headers['content-type'] = 'application/json';
  return { method, url, headers, payload: raw || undefined };
}


interface CallOptions {
  method: string;
  url: string;
  headers?: Record<string, string>;
  payload?: string | object;
}

/**
 * call sends one request to the listening controller. (fastify.inject needs light-my-request, whose
 * ESM-only cookie dependency Jest cannot load here, so tests go over loopback HTTP instead.)
 */
async function call(c: RunningController, opts: CallOptions): Promise<{ statusCode: number; json(): unknown }> {
  let headers: Record<string, string> = { ...(opts.headers ?? {}) };
  let body: string | undefined;
  if (typeof opts.payload === 'string') body = opts.payload;
  else if (opts.payload !== undefined) {
    body = JSON.stringify(opts.payload);
    headers['content-type'] ??= 'application/json';
  }
  if (opts.method === 'POST' && opts.url === '/v1/enroll') headers = signEnrollment(body, headers);
  const res = await fetch(`${c.url}${opts.url}`, { method: opts.method, headers, body });
  const text = await res.text();
  return { statusCode: res.status, json: () => JSON.parse(text) as unknown };
}

const code = (res: { json(): unknown }) => (res.json() as { error: { code: string } }).error.code;

/** A read-only look at every table but the audit log, to prove a refused request changed nothing. */
function snapshot(): { rows: string; audit: number } {
  const db = new Database(join(dir, 'trellis.db'), { readonly: true });
  try {
    const rows = ['nodes', 'auth_keys', 'meta', 'nonces'].map((t) => JSON.stringify(db.prepare(`SELECT * FROM ${t} ORDER BY 1`).all())).join('\n');
    const audit = (db.prepare('SELECT count(*) AS n FROM audit').get() as { n: number }).n;
    return { rows, audit };
  } finally {
    db.close();
  }
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-ctl-'));
});
afterEach(async () => {
  for (const c of running.splice(0)) await c.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('startController', () => {
  it('listens on a free port, serves /healthz and keeps the admin token in a 0600 file', async () => {
    const c = await start();
    expect(c.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(c.url).not.toMatch(/:0$/);
    const health = await fetch(`${c.url}/healthz`);
    expect(health.status).toBe(200);
    const file = join(dir, 'admin.token');
    expect(readFileSync(file, 'utf8').trim()).toBe(c.adminToken);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(c.adminToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const db = new Database(join(dir, 'trellis.db'), { readonly: true });
    expect((db.prepare("SELECT value FROM meta WHERE key = 'admin.tokenHash'").get() as { value: string }).value).toBe(hashSecret(c.adminToken));
    db.close();
    const token = c.adminToken;
    await c.close();
    const again = await start();
    expect(again.adminToken).toBe(token);
  });

  it('refuses a wrong admin token and audits it', async () => {
    const c = await start();
    const res = await call(c, { method: 'GET', url: '/v1/admin/nodes', headers: { authorization: 'Bearer nope' } });
    expect(res.statusCode).toBe(401);
    expect(code(res)).toBe('TRELLIS_ERR_ADMIN_UNAUTHORIZED');
    const audit = await c.store.listAudit(10);
    expect(audit.at(-1)).toMatchObject({ action: 'auth.failure', details: { code: 'TRELLIS_ERR_ADMIN_UNAUTHORIZED' } });
  });

  it('answers unknown routes with a catalogued 404', async () => {
    const c = await start();
    const res = await call(c, { method: 'GET', url: '/v1/nope' });
    expect(res.statusCode).toBe(404);
    expect(code(res)).toBe('TRELLIS_ERR_NOT_FOUND');
  });
});

describe('enrollment', () => {
  it('enrolls with a one-time key once, counts uses and stores only the hash', async () => {
    const c = await start();
    const key = await createKey(c, { tags: ['tag:server'] });
    expect(key.key).toMatch(/^trellis-auth-[0-9a-f]{12}-/);
    const a = makeNode('alpha');
    const res = await enroll(c, key.key, a);
    expect(res.statusCode).toBe(200);
    const body = res.json() as EnrollResponse;
    expect(body).toMatchObject({ name: 'alpha', addresses: { ipv4: '100.64.0.1', ipv6: 'fd7a:7e11:5000::1' } });
    expect(body.map).toMatchObject({ version: 1, self: { id: body.nodeId, tags: ['tag:server'], allowedIps: ['100.64.0.1/32', 'fd7a:7e11:5000::1/128'] }, peers: [], packetFilter: null });
    // Idempotent: the same request again returns the same node and does not count a use.
    const again = await enroll(c, key.key, a);
    expect(again.statusCode).toBe(200);
    expect((again.json() as EnrollResponse).nodeId).toBe(body.nodeId);
    const b = makeNode('beta');
    const used = await enroll(c, key.key, b);
    expect(used.statusCode).toBe(401);
    expect(code(used)).toBe('TRELLIS_ERR_ENROLL_KEY_USED');
    const keys = (await call(c, { method: 'GET', url: '/v1/admin/keys', headers: adminHeaders(c) })).json() as Array<{ id: string; uses: number }>;
    expect(keys.find((k) => k.id === key.id)?.uses).toBe(1);

    const secret = key.key.split('-').slice(3).join('-');
    const db = new Database(join(dir, 'trellis.db'), { readonly: true });
    const row = db.prepare('SELECT * FROM auth_keys WHERE id = ?').get(key.id) as Record<string, unknown>;
    const audit = JSON.stringify(db.prepare('SELECT * FROM audit').all());
    db.close();
    expect(row.secret_hash).toBe(hashSecret(secret));
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(audit).not.toContain(secret);
  });

  it('counts every use of a reusable key and refuses a taken name', async () => {
    const c = await start();
    const key = await createKey(c, { reusable: true, user: 'alice' });
    for (const name of ['n1', 'n2', 'n3']) expect((await enroll(c, key.key, makeNode(name))).statusCode).toBe(200);
    const clash = await enroll(c, key.key, makeNode('n2'));
    expect(clash.statusCode).toBe(409);
    expect(code(clash)).toBe('TRELLIS_ERR_NAME_TAKEN');
    const keys = (await call(c, { method: 'GET', url: '/v1/admin/keys', headers: adminHeaders(c) })).json() as Array<{ uses: number }>;
    expect(keys[0].uses).toBe(3);
    const nodes = (await call(c, { method: 'GET', url: '/v1/admin/nodes', headers: adminHeaders(c) })).json() as NodeView[];
    expect(nodes.map((n) => n.name).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(new Set(nodes.map((n) => n.addresses.ipv4)).size).toBe(3);
    expect(nodes.every((n) => n.user === 'alice')).toBe(true);
  });

  it('leaves the store unchanged on bad input', async () => {
    let now = Date.now();
    const c = await start({ clock: () => now });
    const oneTime = await createKey(c);
    await enroll(c, oneTime.key, makeNode('first'));
    const shortLived = await createKey(c, { ttlSeconds: 1, reusable: true });
    const good = await createKey(c, { reusable: true });
    now += 5000;
    const n = makeNode('newcomer');
    const base = enrollBody(good.key, n);
    const cases: Array<{ what: string; req: { payload?: string | object; headers?: Record<string, string> }; status: number; code: string; audited: boolean }> = [
      { what: 'malformed JSON', req: { payload: '{"authKey": ', headers: { 'content-type': 'application/json' } }, status: 400, code: 'TRELLIS_ERR_BAD_REQUEST', audited: false },
      { what: 'oversized body', req: { payload: { ...base, hostname: 'x'.repeat(20_000) } }, status: 413, code: 'TRELLIS_ERR_BODY_TOO_LARGE', audited: false },
      { what: 'unknown property', req: { payload: { ...base, admin: true } }, status: 400, code: 'TRELLIS_ERR_BAD_REQUEST', audited: false },
      { what: 'missing field', req: { payload: { ...base, wgKey: undefined } }, status: 400, code: 'TRELLIS_ERR_BAD_REQUEST', audited: false },
      { what: 'bad name', req: { payload: { ...base, name: 'Not A Name' } }, status: 400, code: 'TRELLIS_ERR_BAD_REQUEST', audited: false },
      { what: 'wrong type', req: { payload: { ...base, endpoints: 'x' } }, status: 400, code: 'TRELLIS_ERR_BAD_REQUEST', audited: false },
      { what: 'text body', req: { payload: 'hello', headers: { 'content-type': 'text/plain' } }, status: 415, code: 'TRELLIS_ERR_UNSUPPORTED_MEDIA_TYPE', audited: false },
      { what: 'bad wg key', req: { payload: { ...base, wgKey: 'A'.repeat(44) } }, status: 400, code: 'TRELLIS_ERR_BAD_REQUEST', audited: true },
      { what: 'unknown key', req: { payload: { ...base, authKey: 'trellis-auth-000000000000-' + 'A'.repeat(43) } }, status: 401, code: 'TRELLIS_ERR_ENROLL_KEY_UNKNOWN', audited: true },
      { what: 'garbage key', req: { payload: { ...base, authKey: 'hunter2' } }, status: 401, code: 'TRELLIS_ERR_ENROLL_KEY_UNKNOWN', audited: true },
      { what: 'expired key', req: { payload: { ...base, authKey: shortLived.key } }, status: 401, code: 'TRELLIS_ERR_ENROLL_KEY_EXPIRED', audited: true },
      { what: 'used-up key', req: { payload: { ...base, authKey: oneTime.key } }, status: 401, code: 'TRELLIS_ERR_ENROLL_KEY_USED', audited: true },
    ];
    for (const t of cases) {
      const before = snapshot();
      const res = await call(c, { method: 'POST', url: '/v1/enroll', ...t.req });
      expect({ what: t.what, status: res.statusCode, code: code(res) }).toEqual({ what: t.what, status: t.status, code: t.code });
      const after = snapshot();
      expect(after.rows).toBe(before.rows);
      expect(after.audit - before.audit).toBe(t.audited ? 1 : 0);
    }
    const named = await call(c, { method: 'POST', url: '/v1/enroll', payload: { ...base, admin: true } });
    expect((named.json() as { error: { message: string } }).error.message).toMatch(/unknown property "admin"/);
    const failures = (await c.store.listAudit(100)).filter((e) => e.action === 'auth.failure');
    expect(failures.at(-1)?.details).toMatchObject({ code: 'TRELLIS_ERR_ENROLL_KEY_USED', remote: '127.0.0.1' });
  });
});

describe('signed node requests', () => {
  it('accepts a valid signature and refuses missing, bad, stale and replayed ones, even after a restart', async () => {
    let c = await start();
    const key = await createKey(c);
    const a = makeNode('alpha');
    expect((await enroll(c, key.key, a)).statusCode).toBe(200);
    const body = { endpoints: ['127.0.0.1:41641'] };

    const ok = signedInject(c, a, 'POST', '/v1/node/endpoints', body);
    expect((await call(c, ok)).statusCode).toBe(200);
    expect((await c.store.getNode(a.id!))?.endpoints).toEqual(['127.0.0.1:41641']);

    const unsigned = await call(c, { method: 'POST', url: '/v1/node/endpoints', payload: body });
    expect([unsigned.statusCode, code(unsigned)]).toEqual([401, 'TRELLIS_ERR_AUTH_MISSING']);

    const tampered = signedInject(c, a, 'POST', '/v1/node/endpoints', body);
    tampered.payload = JSON.stringify({ endpoints: ['10.0.0.1:1'] });
    const bad = await call(c, tampered);
    expect([bad.statusCode, code(bad)]).toEqual([401, 'TRELLIS_ERR_AUTH_BAD_SIGNATURE']);

    const stale = await call(c, signedInject(c, a, 'POST', '/v1/node/endpoints', body, Date.now() - 120_000));
    expect([stale.statusCode, code(stale)]).toEqual([401, 'TRELLIS_ERR_AUTH_STALE']);

    const replay = await call(c, ok);
    expect([replay.statusCode, code(replay)]).toEqual([401, 'TRELLIS_ERR_AUTH_REPLAY']);

    const stranger = makeNode('stranger');
    stranger.id = 'n0000000000000000';
    const unknown = await call(c, signedInject(c, stranger, 'POST', '/v1/node/endpoints', body));
    expect([unknown.statusCode, code(unknown)]).toEqual([401, 'TRELLIS_ERR_AUTH_UNKNOWN_NODE']);

    const failures = (await c.store.listAudit(100)).filter((e) => e.action === 'auth.failure').map((e) => e.details.code);
    expect(failures).toEqual(['TRELLIS_ERR_AUTH_MISSING', 'TRELLIS_ERR_AUTH_BAD_SIGNATURE', 'TRELLIS_ERR_AUTH_STALE', 'TRELLIS_ERR_AUTH_REPLAY', 'TRELLIS_ERR_AUTH_UNKNOWN_NODE']);

    await c.close();
    c = await start();
    const afterRestart = await call(c, ok);
    expect([afterRestart.statusCode, code(afterRestart)]).toEqual([401, 'TRELLIS_ERR_AUTH_REPLAY']);
    expect((await call(c, signedInject(c, a, 'POST', '/v1/node/facts', { facts: { os: { id: 'linux' } }, posture: { compliant: true, reasons: [] } }))).statusCode).toBe(200);
    expect((await c.store.getNode(a.id!))?.facts).toEqual({ os: { id: 'linux' } });
  });

  it('stores endpoint candidates (version 2) and puts them in peers\' maps; refuses malformed ones with 400 and changes nothing', async () => {
    const c = await start();
    const key = await createKey(c, { reusable: true });
    const a = makeNode('alpha');
    const b = makeNode('beta');
    expect((await enroll(c, key.key, a)).statusCode).toBe(200);
    expect((await enroll(c, key.key, b)).statusCode).toBe(200);
    // Maps carry candidates: enrolled addresses read as local candidates.
    const entry = () => c.streamer.currentMap(b.id!)!.peers.find((p) => p.id === a.id)!;
    expect(entry().candidates).toEqual([{ kind: 'local', address: '127.0.0.1:51820', learnedAt: expect.any(Number) }]);
    const candidates = [
      { kind: 'local', address: '127.0.0.1:41641', learnedAt: 1_700_000_000_000, source: 'eth0' },
      { kind: 'uplink', address: '[2001:db8::7]:41641', learnedAt: 1_700_000_000_001, source: 'eth1' },
      { kind: 'reflexive', address: '203.0.113.7:40001', learnedAt: 1_700_000_000_002, source: 'stun 198.51.100.1:3478' },
    ];
    const body = { endpoints: candidates.map((x) => x.address), candidates, relay: null };
    expect((await call(c, signedInject(c, a, 'POST', '/v1/node/endpoints', body))).statusCode).toBe(200);
    await c.streamer.settled();
    expect(entry().endpoints).toEqual(body.endpoints);
    expect(entry().candidates).toEqual(candidates);
    const stored = await c.store.getNode(a.id!);
    const bad: Array<[string, unknown, RegExp]> = [
      ['an unknown kind', { ...body, candidates: [{ ...candidates[0], kind: 'teleport' }, ...candidates.slice(1)] }, /body.candidates.0.kind must be equal to one of the allowed values/],
      ['a bad address', { endpoints: ['127.0.0.1:41641'], candidates: [{ ...candidates[0], address: '127.0.0.1:99999' }] }, /body.candidates\[0\].address "127.0.0.1:99999" is not ip:port/],
      ['an address twice', { endpoints: [candidates[0]!.address, candidates[0]!.address], candidates: [candidates[0], candidates[0]] }, /listed twice/],
      ['a learnedAt far ahead', { endpoints: [candidates[0]!.address], candidates: [{ ...candidates[0], learnedAt: Date.now() + 48 * 3_600_000 }] }, /ahead of the controller's clock/],
      ['endpoints that disagree', { endpoints: [candidates[1]!.address, candidates[0]!.address], candidates: candidates.slice(0, 2) }, /must be the addresses of body.candidates in the same order/],
      ['a missing learnedAt', { endpoints: [candidates[0]!.address], candidates: [{ kind: 'local', address: candidates[0]!.address }] }, /learnedAt/],
      ['an unknown field', { endpoints: [candidates[0]!.address], candidates: [{ ...candidates[0], via: 'x' }] }, /additional properties|via/],
    ];
    for (const [what, payload, message] of bad) {
      // The relay flag in a refused report is not taken either.
      const res = await call(c, signedInject(c, a, 'POST', '/v1/node/endpoints', { ...(payload as object), relay: { port: 51821 } }));
      expect([what, res.statusCode, code(res)]).toEqual([what, 400, 'TRELLIS_ERR_BAD_REQUEST']);
      expect([what, (res.json() as { error: { message: string } }).error.message]).toEqual([what, expect.stringMatching(message)]);
    }
    expect(await c.store.getNode(a.id!)).toEqual(stored);
    expect(entry().candidates).toEqual(candidates);
    // A version-1 report (addresses only) is taken as local candidates; the same addresses again change nothing.
    expect((await call(c, signedInject(c, a, 'POST', '/v1/node/endpoints', { endpoints: ['127.0.0.1:41641'] }))).statusCode).toBe(200);
    await c.streamer.settled();
    expect(entry().candidates).toEqual([{ kind: 'local', address: '127.0.0.1:41641', learnedAt: 1_700_000_000_000 }]);
    await c.close();
  });

  it('refuses an expired node with 403', async () => {
    let now = Date.now();
    const c = await start({ clock: () => now });
    const key = await createKey(c, { nodeTtlSeconds: 60 });
    const a = makeNode('alpha');
    expect((await enroll(c, key.key, a)).statusCode).toBe(200);
    now += 61_000;
    const res = await call(c, signedInject(c, a, 'POST', '/v1/node/endpoints', { endpoints: [] }, now));
    expect([res.statusCode, code(res)]).toEqual([403, 'TRELLIS_ERR_NODE_EXPIRED']);
  });
});

describe('exit node reports', () => {
  it('takes a signed report of the exit node a node uses and refuses malformed or unsigned ones', async () => {
    const c = await start();
    const key = await createKey(c);
    const a = makeNode('alpha');
    expect((await enroll(c, key.key, a)).statusCode).toBe(200);
    const report = { preferred: 'n3', fallback: 'n4', inUse: 'n4', problem: 'exit node n3 is offline', switches: 2 };
    const ok = await call(c, signedInject(c, a, 'POST', '/v1/node/exit', report));
    expect([ok.statusCode, ok.json()]).toEqual([200, { ok: true }]);
    for (const bad of [{ ...report, switches: -1 }, { ...report, inUse: '' }, { ...report, extra: true }, { preferred: 'n3' }]) {
      const res = await call(c, signedInject(c, a, 'POST', '/v1/node/exit', bad));
      expect([res.statusCode, code(res)]).toEqual([400, 'TRELLIS_ERR_BAD_REQUEST']);
    }
    const unsigned = await call(c, { method: 'POST', url: '/v1/node/exit', payload: report });
    expect([unsigned.statusCode, code(unsigned)]).toEqual([401, 'TRELLIS_ERR_AUTH_MISSING']);
  });
});

describe('revocation', () => {
  it('removes the node from every peer map and refuses its requests with 403', async () => {
    const c = await start();
    const key = await createKey(c, { reusable: true });
    const [a, b, d] = [makeNode('a'), makeNode('b'), makeNode('d')];
    for (const n of [a, b, d]) expect((await enroll(c, key.key, n)).statusCode).toBe(200);
    expect(c.streamer.currentMap(a.id!)?.peers.map((p) => p.name)).toEqual(expect.arrayContaining(['b', 'd']));
    const versionBefore = c.streamer.currentMap(a.id!)!.version;

    const res = await call(c, { method: 'POST', url: '/v1/admin/nodes/b/revoke', headers: adminHeaders(c) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ name: 'b', revoked: true });
    await c.streamer.refresh();
    const mapA = c.streamer.currentMap(a.id!)!;
    expect(mapA.peers.map((p) => p.name)).toEqual(['d']);
    expect(mapA.version).toBe(versionBefore + 1);
    expect(c.streamer.currentMap(b.id!)).toBeNull();

    const refused = await call(c, signedInject(c, b, 'POST', '/v1/node/endpoints', { endpoints: [] }));
    expect([refused.statusCode, code(refused)]).toEqual([403, 'TRELLIS_ERR_NODE_REVOKED']);
    const unknown = await call(c, { method: 'POST', url: '/v1/admin/nodes/zzz/revoke', headers: adminHeaders(c) });
    expect(unknown.statusCode).toBe(404);
    const actions = (await c.store.listAudit(100)).map((e) => e.action);
    expect(actions).toContain('node.revoked');
  });
});

describe('map batching', () => {
  it('rebuilds a handful of times when 20 nodes enroll at once', async () => {
    const c = await start({ batchWindowMs: 25 });
    const key = await createKey(c, { reusable: true });
    const before = c.stats().rebuilds;
    const nodes = Array.from({ length: 20 }, (_, i) => makeNode(`node-${i}`));
    const results = await Promise.all(nodes.map((n) => enroll(c, key.key, n)));
    expect(results.every((r) => r.statusCode === 200)).toBe(true);
    const rebuilds = c.stats().rebuilds - before;
    if (process.env.TRELLIS_TEST_VERBOSE) console.log({ rebuilds });
    expect(rebuilds).toBeGreaterThanOrEqual(1);
    expect(rebuilds).toBeLessThanOrEqual(3);
    for (const n of nodes) expect(c.streamer.currentMap(n.id!)?.peers).toHaveLength(19);
    // A heartbeat (lastSeen only) does not rebuild.
    const r = c.stats().rebuilds;
    await call(c, signedInject(c, nodes[0], 'POST', '/v1/node/endpoints', { endpoints: ['127.0.0.1:51820'] }));
    await new Promise((res) => setTimeout(res, 60));
    expect(c.stats().rebuilds).toBe(r);
  });
});

/** openStream reads SSE map events from a real connection. */
function openStream(c: RunningController, n: TestNode, query: string) {
  const path = `/v1/map/stream${query}`;
  const events: SseEvent[] = [];
  const waiters: Array<() => void> = [];
  let response: IncomingMessage | null = null;
  const req = httpRequest(`${c.url}${path}`, { headers: signRequest(ed25519PrivateKey(n.identity), n.id!, 'GET', path, '') }, (res) => {
    response = res;
    const parser = new SseParser();
    res.on('data', (chunk: Buffer) => {
      for (const e of parser.push(chunk)) if (e.event === 'map') events.push(e);
      waiters.splice(0).forEach((w) => w());
    });
    res.on('error', () => undefined);
  });
  req.on('error', () => undefined);
  req.end();
  const next = async (i: number): Promise<MapResponse> => {
    const deadline = Date.now() + 5000;
    while (events.length <= i) {
      if (Date.now() > deadline) throw new Error(`no map event #${i}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
    return JSON.parse(events[i].data) as MapResponse;
  };
  return { next, status: () => (response as IncomingMessage | null)?.statusCode, close: () => req.destroy() };
}

describe('map stream', () => {
  it('sends the full map, then a delta when a peer joins, and only the missing delta after a reconnect', async () => {
    const c = await start();
    const key = await createKey(c, { reusable: true });
    const [a, b, d] = [makeNode('a'), makeNode('b'), makeNode('d')];
    await enroll(c, key.key, a);

    const s1 = openStream(c, a, '');
    const first = await s1.next(0);
    expect(first.kind).toBe('full');
    let map = applyMapResponse(null, first);
    expect(map.peers).toEqual([]);

    await enroll(c, key.key, b);
    // Events arrive as deltas; fold until b is present.
    let i = 1;
    while (!map.peers.some((p) => p.name === 'b')) {
      const ev = await s1.next(i++);
      expect(ev.kind).toBe('delta');
      map = applyMapResponse(map, ev);
    }
    expect(map).toEqual(c.streamer.currentMap(a.id!));
    s1.close();
    await waitFor(() => c.stats().streams === 0);

    await enroll(c, key.key, d);
    await c.streamer.refresh();
    const s2 = openStream(c, a, `?since=${map.version}&epoch=${map.epoch}`);
    const resumed = (await s2.next(0)) as DeltaMapResponse;
    expect(resumed).toMatchObject({ kind: 'delta', baseVersion: map.version, peersRemoved: [] });
    expect(resumed.peersUpserted.map((p) => p.name)).toEqual(['d']);
    const current: NetworkMapData = applyMapResponse(map, resumed);
    expect(current.peers.map((p) => p.name).sort()).toEqual(['b', 'd']);
    expect(current.version).toBe(resumed.version);

    // Another epoch (a restarted controller) gets the full map.
    const s3 = openStream(c, a, `?since=${map.version}&epoch=other`);
    expect((await s3.next(0)).kind).toBe('full');
    s2.close();
    s3.close();
  });

  it('closes a revoked node\'s stream right away', async () => {
    const c = await start();
    const key = await createKey(c, { reusable: true });
    const a = makeNode('a');
    await enroll(c, key.key, a);
    const s = openStream(c, a, '');
    await s.next(0);
    await waitFor(() => c.stats().streams === 1);
    const nodes = (await call(c, { method: 'GET', url: '/v1/admin/nodes', headers: adminHeaders(c) })).json() as NodeView[];
    expect(nodes[0].online).toBe(true);
    await call(c, { method: 'POST', url: '/v1/admin/nodes/a/revoke', headers: adminHeaders(c), payload: { reason: 'lost laptop' } });
    expect(c.stats().streams).toBe(0);
    s.close();
  });
});

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('plugins', () => {
  it('loads plugins from configFile, transforms maps and reports node events', async () => {
    const events = join(dir, 'events.log');
    const pluginFile = join(dir, 'recorder.js');
    writeFileSync(
      pluginFile,
      `const fs = require('node:fs');
exports.plugin = {
  manifest: { name: 'recorder', version: '1.0.0', apiRange: '^1.0.0', sides: ['controller'] },
  setup(ctx) { ctx.controller.audit({ action: 'recorder.started', actor: 'plugin:recorder' }); },
  mapExtension(node) { return { node: node.id }; },
  onNodeEvent(e) { fs.appendFileSync(${JSON.stringify(events)}, e.kind + ' ' + e.nodeName + '\\n'); },
};
`,
    );
    const configFile = join(dir, 'trellis.yaml');
    writeFileSync(configFile, 'controller:\n  plugins:\n    - ./recorder.js\n');
    const c = await start({ configFile });
    const key = await createKey(c, { reusable: true });
    const a = makeNode('a');
    const res = await enroll(c, key.key, a);
    expect((res.json() as EnrollResponse).map.extensions).toEqual({ recorder: { node: a.id } });
    expect((await call(c, signedInject(c, a, 'POST', '/v1/node/facts', { facts: { os: { id: 'linux' } } }))).statusCode).toBe(200);
    const s = openStream(c, a, '');
    await s.next(0);
    await waitFor(() => c.stats().streams === 1);
    s.close();
    await waitFor(() => c.stats().streams === 0);
    await call(c, { method: 'POST', url: '/v1/admin/nodes/a/revoke', headers: adminHeaders(c) });
    await waitFor(() => readFileSync(events, 'utf8').includes('revoked'));
    expect(readFileSync(events, 'utf8').trim().split('\n')).toEqual(['enrolled a', 'facts a', 'online a', 'offline a', 'revoked a']);
    expect((await c.store.listAudit(100)).some((e) => e.action === 'recorder.started')).toBe(true);
  });
});
