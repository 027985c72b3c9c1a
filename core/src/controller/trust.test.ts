/**
 * Control-plane trust on a real controller over loopback HTTP: proof of possession at enrolment,
 * auth key revocation and lifetime, admin token strength, rate limits and the aggregated failure
 * log, the per-node stream cap, signatures checked before bodies are parsed, connection events
 * and the audit routes.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ed25519PrivateKey, generateIdentityKeyPair, generateWgKeyPair, type KeyPair } from '../auth/keys';
import { signPossession, signRequest } from '../auth/signing';
import { startController, type RunningController, type StartControllerOptions } from './controller';
import type { AuditEvent, AuditVerifyReport, CreateKeyResponse, EnrollResponse } from '../wire';

const log = pino({ level: 'silent' });
let dir: string;
const running: RunningController[] = [];

async function start(extra: Partial<StartControllerOptions> = {}): Promise<RunningController> {
  const c = await startController({ listen: '127.0.0.1:0', dataDir: dir, log, batchWindowMs: 10, ...extra });
  running.push(c);
  return c;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-trust-'));
});
afterEach(async () => {
  for (const c of running.splice(0)) await c.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Headers;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

async function call(c: RunningController, method: string, path: string, opts: { body?: string; headers?: Record<string, string>; admin?: boolean } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.body !== undefined) headers['content-type'] ??= 'application/json';
  if (opts.admin) headers.authorization = `Bearer ${c.adminToken}`;
  const res = await fetch(c.url + path, { method, headers, body: opts.body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Answer['body']) : {} };
}

async function createKey(c: RunningController, body: Record<string, unknown> = { reusable: true }): Promise<CreateKeyResponse> {
  const res = await call(c, 'POST', '/v1/admin/keys', { body: JSON.stringify(body), admin: true });
  expect(res.status).toBe(200);
  return res.body as unknown as CreateKeyResponse;
}

interface Node {
  name: string;
  wg: KeyPair;
  identity: KeyPair;
  id?: string;
}
const node = (name: string): Node => ({ name, wg: generateWgKeyPair(), identity: generateIdentityKeyPair() });
const enrollBody = (key: string, n: Node) => JSON.stringify({ authKey: key, name: n.name, hostname: n.name, wgKey: n.wg.publicKey, identityKey: n.identity.publicKey, endpoints: ['127.0.0.1:51820'] });

/** enroll signs with `signer` (default the node's own identity key). */
async function enroll(c: RunningController, key: string, n: Node, signer: KeyPair | null = n.identity): Promise<Answer> {
  const body = enrollBody(key, n);
  const headers = signer ? signPossession(ed25519PrivateKey(signer), 'POST', '/v1/enroll', body) : {};
  const res = await call(c, 'POST', '/v1/enroll', { body, headers });
  if (res.status === 200) n.id = (res.body as unknown as EnrollResponse).nodeId;
  return res;
}

const auditOf = async (c: RunningController, action: string) => (await c.store.queryAudit({ types: [action], limit: 1000 })) as AuditEvent[];

describe('enrolment proves possession of the identity key', () => {
  it('refuses re-enrolment without the private identity key, and enrolment without a signature', async () => {
    const c = await start();
    const key = await createKey(c);
    const a = node('alpha');
    expect((await enroll(c, key.key, a)).status).toBe(200);
    const before = await c.store.getNode(a.id!);

    // An attacker who knows alpha's name and public keys and holds a usable auth key, signing with its own key.
    const attacker = generateIdentityKeyPair();
    const stolen = await enroll(c, key.key, a, attacker);
    expect([stolen.status, stolen.body.error?.code]).toEqual([401, 'TRELLIS_ERR_ENROLL_PROOF_INVALID']);
    const unsigned = await enroll(c, key.key, a, null);
    expect([unsigned.status, unsigned.body.error?.code]).toEqual([401, 'TRELLIS_ERR_ENROLL_PROOF_MISSING']);
    expect(await c.store.getNode(a.id!)).toEqual(before);
    expect((await auditOf(c, 'auth.failure')).filter((e) => e.action === 'auth.failure').map((e) => e.details.code)).toEqual(['TRELLIS_ERR_ENROLL_PROOF_INVALID', 'TRELLIS_ERR_ENROLL_PROOF_MISSING']);

    // The node itself re-enrols; a replay of that very request is refused.
    const body = enrollBody(key.key, a);
    const headers = signPossession(ed25519PrivateKey(a.identity), 'POST', '/v1/enroll', body);
    expect((await call(c, 'POST', '/v1/enroll', { body, headers })).status).toBe(200);
    const replay = await call(c, 'POST', '/v1/enroll', { body, headers });
    expect([replay.status, replay.body.error?.code]).toEqual([401, 'TRELLIS_ERR_AUTH_REPLAY']);
  });

  it('refuses an identity key that is not a point on Ed25519', async () => {
    const c = await start();
    const key = await createKey(c);
    const n = node('garbage');
    // y = 2 does not decode to a curve point; and the all-zero encoding is of small order.
    for (const bad of [Buffer.concat([Buffer.from([2]), Buffer.alloc(31)]), Buffer.alloc(32)]) {
      n.identity = { ...n.identity, publicKey: bad.toString('base64') };
      const res = await enroll(c, key.key, n, generateIdentityKeyPair());
      expect([res.status, res.body.error?.code, res.body.error?.message]).toEqual([400, 'TRELLIS_ERR_BAD_REQUEST', expect.stringMatching(/not an Ed25519 public key/)]);
    }
  });
});

describe('auth keys', () => {
  it('revokes one key: later enrolments with it are refused, other keys still work', async () => {
    const c = await start();
    const key = await createKey(c);
    const other = await createKey(c);
    const a = node('a1');
    expect((await enroll(c, key.key, a)).status).toBe(200);
    const revoked = await call(c, 'POST', `/v1/admin/keys/${key.id}/revoke`, { body: JSON.stringify({ reason: 'leaked' }), admin: true });
    expect([revoked.status, revoked.body.revoked]).toEqual([200, true]);
    const refused = await enroll(c, key.key, node('a2'));
    expect([refused.status, refused.body.error?.code]).toEqual([401, 'TRELLIS_ERR_ENROLL_KEY_REVOKED']);
    // Not even the node it enrolled comes back with it.
    const again = await enroll(c, key.key, a);
    expect([again.status, again.body.error?.code]).toEqual([401, 'TRELLIS_ERR_ENROLL_KEY_REVOKED']);
    expect((await enroll(c, other.key, node('a3'))).status).toBe(200);
    const unknown = await call(c, 'POST', '/v1/admin/keys/nope/revoke', { admin: true });
    expect([unknown.status, unknown.body.error?.code]).toEqual([404, 'TRELLIS_ERR_NOT_FOUND']);
    expect((await auditOf(c, 'admin.key.revoked')).map((e) => [e.target, e.details.reason])).toEqual([[key.id, 'leaked']]);
  });

  it('refuses a key asking to live longer than maxAuthKeyTtl, from the config file', async () => {
    const config = join(dir, 'trellis.yaml');
    writeFileSync(config, 'controller:\n  settings:\n    maxAuthKeyTtl: 2d\n');
    const c = await start({ configFile: config });
    const res = await call(c, 'POST', '/v1/admin/keys', { body: JSON.stringify({ ttlSeconds: 10 * 365 * 24 * 3600 }), admin: true });
    expect([res.status, res.body.error?.code]).toEqual([400, 'TRELLIS_ERR_AUTH_KEY_TTL_TOO_LONG']);
    expect(res.body.error?.message).toMatch(/at most 172800 s/);
    expect((await c.store.listAuthKeys()).length).toBe(0);
    expect((await call(c, 'POST', '/v1/admin/keys', { body: JSON.stringify({ ttlSeconds: 2 * 24 * 3600 }), admin: true })).status).toBe(200);
  });

  it('refuses a bad setting at start with its path', async () => {
    const config = join(dir, 'trellis.yaml');
    writeFileSync(config, 'controller:\n  settings:\n    limits: { enrollPerMinute: 0 }\n');
    await expect(start({ configFile: config })).rejects.toThrow(/controller\.settings\.limits\.enrollPerMinute 0 must be a whole number from 1/);
  });
});

describe('admin token strength', () => {
  it('refuses tokens under 256 bits from the option or the file, and generates strong ones', async () => {
    await expect(start({ adminToken: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' })).rejects.toThrow(/about 150 bits of entropy/);
    writeFileSync(join(dir, 'admin.token'), 'abc\n');
    await expect(start()).rejects.toThrow(/admin\.token has about 14 bits/);
    rmSync(join(dir, 'admin.token'));
    const c = await start();
    expect(c.adminToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(readFileSync(join(dir, 'admin.token'), 'utf8').trim()).toBe(c.adminToken);
  });
});

describe('abuse limits', () => {
  it('answers a flood of bad console logins with 429 and Retry-After, adding a bounded number of audit rows', async () => {
    const c = await start();
    const before = (await c.store.auditHead())!.seq;
    const statuses = new Map<number, number>();
    let retryAfter: string | null = null;
    for (let i = 0; i < 2000; i++) {
      const res = await fetch(`${c.url}/console/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=wrong' });
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 429) retryAfter ??= res.headers.get('retry-after');
    }
    expect(Object.fromEntries(statuses)).toEqual({ 401: 10, 429: 1990 });
    expect(Number(retryAfter)).toBeGreaterThan(0);
    await c.close();
    const rows = (await (await start()).store.readAuditPage(before, 10_000)).filter((e) => e.action.startsWith('auth.'));
    expect(rows.filter((e) => e.action === 'auth.failure')).toHaveLength(10);
    const summary = rows.filter((e) => e.action === 'auth.failure.summary');
    expect(summary).toHaveLength(1);
    expect(summary[0]!.details).toMatchObject({ remote: '127.0.0.1', count: 10, auditedOneByOne: 10, rateLimited: 1990 });
  }, 60_000);

  it('blocks a source on every route once it failed authentication too often, until its window ends', async () => {
    let now = Date.now();
    const c = await start({ clock: () => now, trust: { limits: { authFailuresPerWindow: 5, auditFailuresPerWindow: 2, authFailureWindowMs: 60_000 } } });
    for (let i = 0; i < 5; i++) expect((await call(c, 'GET', '/v1/admin/nodes', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const blocked = await call(c, 'GET', '/v1/admin/nodes', { admin: true });
    expect([blocked.status, blocked.body.error?.code]).toEqual([429, 'TRELLIS_ERR_RATE_LIMITED']);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(50);
    expect((await call(c, 'GET', '/healthz')).status).toBe(429);
    now += 61_000;
    expect((await call(c, 'GET', '/v1/admin/nodes', { admin: true })).status).toBe(200);
    await c.trust.failures.sweep();
    expect((await auditOf(c, 'auth.failure')).filter((e) => e.action === 'auth.failure').length).toBe(2);
    const summary = await auditOf(c, 'auth.failure.summary');
    expect(summary.map((e) => e.details)).toEqual([expect.objectContaining({ count: 5, auditedOneByOne: 2, rateLimited: 2, codes: { TRELLIS_ERR_ADMIN_UNAUTHORIZED: 5 } })]);
  });

  it('rate-limits enrolment per source, above a lab-sized burst', async () => {
    const c = await start({ trust: { limits: { enrollPerMinute: 25 } } });
    const key = await createKey(c);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => enroll(c, key.key, node(`burst-${i}`))));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    const more = [];
    for (let i = 0; i < 10; i++) more.push((await enroll(c, key.key, node(`more-${i}`))).status);
    expect(more.filter((s) => s === 429).length).toBe(5);
  });

  it('checks the signature before reading a large body', async () => {
    const c = await start();
    const key = await createKey(c);
    const a = node('bodycheck');
    expect((await enroll(c, key.key, a)).status).toBe(200);
    // An unsigned 900 KB telemetry body that is not even JSON: refused as unsigned (401), not as bad
    // JSON (400), because the headers are checked before the body is read.
    const big = '{"batchId": ' + 'x'.repeat(900_000);
    const res = await call(c, 'POST', '/v1/node/telemetry', { body: big });
    expect([res.status, res.body.error?.code]).toEqual([401, 'TRELLIS_ERR_AUTH_MISSING']);
    // A signed request whose bytes were changed is refused with a bad signature before JSON parsing:
    // the body below is not even JSON.
    const headers = signRequest(ed25519PrivateKey(a.identity), a.id!, 'POST', '/v1/node/endpoints', '{"endpoints":[]}');
    const tampered = await call(c, 'POST', '/v1/node/endpoints', { body: '{"endpoints": not json', headers });
    expect([tampered.status, tampered.body.error?.code]).toEqual([401, 'TRELLIS_ERR_AUTH_BAD_SIGNATURE']);
  });

  it('keeps at most streamsPerNode map streams per node, the newest replacing the oldest', async () => {
    const c = await start({ trust: { limits: { streamsPerNode: 2 } } });
    const key = await createKey(c);
    const a = node('streamer');
    expect((await enroll(c, key.key, a)).status).toBe(200);
    const open = () =>
      new Promise<{ closed: Promise<void>; destroy(): void }>((resolve, reject) => {
        const url = new URL(c.url + '/v1/map/stream');
        const req = httpRequest({ host: url.hostname, port: url.port, path: '/v1/map/stream', headers: signRequest(ed25519PrivateKey(a.identity), a.id!, 'GET', '/v1/map/stream', '') }, (res) => {
          expect(res.statusCode).toBe(200);
          res.resume();
          resolve({ closed: new Promise((r) => res.on('close', () => r())), destroy: () => req.destroy() });
        });
        req.on('error', reject);
        req.end();
      });
    const first = await open();
    const second = await open();
    let firstClosed = false;
    void first.closed.then(() => (firstClosed = true));
    expect(c.stats().streams).toBe(2);
    const third = await open();
    await first.closed;
    expect(firstClosed).toBe(true);
    expect(c.stats().streams).toBe(2);
    expect(c.trust.streams.replaced).toBe(1);
    second.destroy();
    third.destroy();
  });
});

describe('connection events and the audit routes', () => {
  it('writes reported connection events to the audit log, filters and verifies it', async () => {
    const c = await start();
    const key = await createKey(c);
    const a = node('ev-a');
    const b = node('ev-b');
    expect((await enroll(c, key.key, a)).status).toBe(200);
    expect((await enroll(c, key.key, b)).status).toBe(200);
    const body = JSON.stringify({ events: [{ at: Date.now(), kind: 'tunnel.up', peer: b.id, details: { handshakeAgeS: 2 } }, { at: Date.now(), kind: 'path.switched', peer: b.id, details: { from: 'direct', to: 'relay:r1' } }] });
    const signed = signRequest(ed25519PrivateKey(a.identity), a.id!, 'POST', '/v1/node/events', body);
    const res = await call(c, 'POST', '/v1/node/events', { body, headers: signed });
    expect([res.status, res.body.accepted]).toEqual([200, 2]);
    const bad = JSON.stringify({ events: [{ at: Date.now(), kind: 'tunnel.sideways' }] });
    expect((await call(c, 'POST', '/v1/node/events', { body: bad, headers: signRequest(ed25519PrivateKey(a.identity), a.id!, 'POST', '/v1/node/events', bad) })).status).toBe(400);

    const conn = await call(c, 'GET', '/v1/admin/audit?type=conn&node=ev-b', { admin: true });
    const events = conn.body as unknown as AuditEvent[];
    expect(events.map((e) => [e.action, e.actor, e.target, e.details.name, e.details.peer])).toEqual([
      ['conn.tunnel.up', `node:${a.id}`, b.id, 'ev-a', 'ev-b'],
      ['conn.path.switched', `node:${a.id}`, b.id, 'ev-a', 'ev-b'],
    ]);
    const verify = await call(c, 'GET', '/v1/admin/audit/verify', { admin: true });
    const report = verify.body as unknown as AuditVerifyReport;
    expect(report).toMatchObject({ ok: true, firstBad: null });
    expect(report.chained).toBe(report.entries);
  });
});
