/**
 * Identity, approval, policy-filtered maps, controller posture decisions and the policy lifecycle,
 * on a real controller (SQLite, loopback HTTP) with the real posture-opa plugin (opa-wasm, opa CLI).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import pino from 'pino';
import { ed25519PrivateKey, generateIdentityKeyPair, generateWgKeyPair, type KeyPair } from '../auth/keys';
import { signPossession, signRequest } from '../auth/signing';
import type { NetworkMapData } from '../netmap/types';
import { startController, type RunningController, type StartControllerOptions } from './controller';
import type { CreateKeyResponse, EnrollResponse } from '../wire';

const log = pino({ level: 'silent' });
const POLICIES = resolve(__dirname, '../../../policies');
let dir: string;
const running: RunningController[] = [];

interface TestNode {
  name: string;
  wg: KeyPair;
  identity: KeyPair;
  id: string;
  ipv4: string;
  ipv6: string;
}

async function start(extra: Partial<StartControllerOptions> = {}): Promise<RunningController> {
  const c = await startController({ listen: '127.0.0.1:0', dataDir: dir, log, batchWindowMs: 10, ...extra });
  running.push(c);
  return c;
}

function withPlugin(config: Record<string, unknown> = {}): Partial<StartControllerOptions> {
  const file = join(dir, 'trellis.yaml');
  writeFileSync(file, JSON.stringify({ controller: { plugins: [{ name: 'posture-opa', config }] } }));
  return { configFile: file };
}

async function call(c: RunningController, method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const h: Record<string, string> = { authorization: `Bearer ${c.adminToken}`, ...headers };
  if (body !== undefined) h['content-type'] = 'application/json';
  const res = await fetch(`${c.url}${url}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as any };
}

async function enroll(c: RunningController, name: string, key: { tags?: string[]; user?: string } = {}): Promise<TestNode> {
  const k = await call(c, 'POST', '/v1/admin/keys', key);
  expect(k.status).toBe(200);
  const wg = generateWgKeyPair();
  const identity = generateIdentityKeyPair();
  const body = JSON.stringify({
    authKey: (k.body as CreateKeyResponse).key,
    name,
    hostname: name,
    wgKey: wg.publicKey,
    identityKey: identity.publicKey,
    endpoints: ['127.0.0.1:51820'],
  });
  const res = await fetch(`${c.url}/v1/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signPossession(ed25519PrivateKey(identity), 'POST', '/v1/enroll', body) },
    body,
  });
  expect(res.status).toBe(200);
  const e = (await res.json()) as EnrollResponse;
  return { name, wg, identity, id: e.nodeId, ipv4: e.addresses.ipv4, ipv6: e.addresses.ipv6 };
}

async function signed(c: RunningController, n: TestNode, method: 'GET' | 'POST', url: string, body?: unknown) {
  const raw = body === undefined ? '' : JSON.stringify(body);
  const headers: Record<string, string> = signRequest(ed25519PrivateKey(n.identity), n.id, method, url, raw, Date.now());
  if (raw) headers['content-type'] = 'application/json';
  return fetch(`${c.url}${url}`, { method, headers, body: raw || undefined });
}

const mapOf = (c: RunningController, n: TestNode): NetworkMapData => c.streamer.currentMap(n.id)!;
const peerNames = (c: RunningController, n: TestNode) => mapOf(c, n).peers.map((p) => p.name).sort();

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - t0;
}

/** policyFiles reads the shipped policies (rego + data.json), as `trellis policy push` sends them. */
function policyFiles(root = POLICIES): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (name === 'dist' || name.startsWith('.')) continue;
      if (statSync(full).isDirectory()) walk(full);
      else if (/\.(rego|json)$/.test(name) && name !== 'project.json') out[relative(root, full)] = readFileSync(full, 'utf8');
    }
  };
  walk(root);
  return out;
}

const aclData = (acls: unknown) => JSON.stringify({ trellis: { acls } });
const A_TO_B_443 = {
  groups: {},
  rules: [{ name: 'a-to-b-https', src: ['tag:a'], dst: ['tag:b'], proto: 'tcp', ports: ['443'] }],
  quarantine: { tags: ['tag:quarantine'], remediation: ['group:remediation'] },
};
const compliantFacts = () => ({
  os: { id: 'debian', versionId: '12' },
  kernel: { release: '6.1.0-18-amd64' },
  agent: { version: '0.1.0' },
  processes: ['sshd'],
  wgKey: { createdAt: Date.now() },
  collectedAt: Date.now(),
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-policy-ctl-'));
});
afterEach(async () => {
  for (const c of running.splice(0)) await c.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('users and groups', () => {
  it('adds, lists and removes users and groups; bad input is refused and changes nothing', async () => {
    const c = await start();
    expect((await call(c, 'POST', '/v1/admin/users', { name: 'alice' })).status).toBe(200);
    expect((await call(c, 'POST', '/v1/admin/users', { name: 'bob' })).status).toBe(200);
    const dup = await call(c, 'POST', '/v1/admin/users', { name: 'alice' });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('TRELLIS_ERR_ALREADY_EXISTS');
    const bad = await call(c, 'POST', '/v1/admin/users', { name: 'has space' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/body\.name/);
    expect((await call(c, 'POST', '/v1/admin/groups', { name: 'eng' })).status).toBe(200);
    expect((await call(c, 'POST', '/v1/admin/groups', { name: 'Eng!' })).status).toBe(400);
    expect((await call(c, 'POST', '/v1/admin/groups/eng/members', { user: 'alice' })).body).toMatchObject({ name: 'eng', members: ['alice'] });
    const ghost = await call(c, 'POST', '/v1/admin/groups/eng/members', { user: 'ghost' });
    expect(ghost.status).toBe(404);
    expect(ghost.body.error.message).toMatch(/user "ghost"/);
    expect((await call(c, 'POST', '/v1/admin/groups/nope/members', { user: 'alice' })).status).toBe(404);
    expect((await call(c, 'GET', '/v1/admin/users')).body).toEqual([
      expect.objectContaining({ name: 'alice', groups: ['eng'] }),
      expect.objectContaining({ name: 'bob', groups: [] }),
    ]);
    expect((await call(c, 'DELETE', '/v1/admin/groups/eng/members/alice')).body.members).toEqual([]);
    expect((await call(c, 'DELETE', '/v1/admin/groups/eng/members/alice')).status).toBe(404);
    expect((await call(c, 'DELETE', '/v1/admin/groups/eng')).status).toBe(200);
    expect((await call(c, 'GET', '/v1/admin/groups')).body).toEqual([]);
    expect((await call(c, 'DELETE', '/v1/admin/users/nobody')).status).toBe(404);
  });

  it('binds a key to a user; removing the user revokes only its nodes', async () => {
    const c = await start();
    const a1 = await enroll(c, 'alice-1', { user: 'alice' });
    await enroll(c, 'alice-2', { user: 'alice' });
    const b = await enroll(c, 'bob-1', { user: 'bob' });
    const nodes = (await call(c, 'GET', '/v1/admin/nodes')).body as Array<{ name: string; user: string }>;
    expect(nodes.find((n) => n.name === 'alice-1')?.user).toBe('alice');
    expect((await call(c, 'GET', '/v1/admin/users')).body.map((u: { name: string }) => u.name)).toEqual(['alice', 'bob']);
    const removed = await call(c, 'DELETE', '/v1/admin/users/alice');
    expect(removed.body).toMatchObject({ name: 'alice', revokedNodes: ['alice-1', 'alice-2'] });
    await c.streamer.refresh('test');
    expect(c.streamer.currentMap(a1.id)).toBeNull();
    expect(peerNames(c, b)).toEqual([]);
    expect((await signed(c, b, 'POST', '/v1/node/endpoints', { endpoints: ['127.0.0.1:1234'] })).status).toBe(200);
    expect((await signed(c, a1, 'POST', '/v1/node/endpoints', { endpoints: ['127.0.0.1:1234'] })).status).toBe(403);
  });
});

describe('device approval', () => {
  it('keeps a new node peerless until it is approved, and audits the approval', async () => {
    const c = await start({ requireApproval: true });
    const a = await enroll(c, 'node-a');
    const b = await enroll(c, 'node-b');
    expect(peerNames(c, a)).toEqual([]);
    expect(peerNames(c, b)).toEqual([]);
    expect((await call(c, 'POST', '/v1/admin/nodes/node-a/approve')).body).toMatchObject({ name: 'node-a', approved: true });
    expect(peerNames(c, a)).toEqual([]);
    await call(c, 'POST', '/v1/admin/nodes/node-b/approve');
    expect(peerNames(c, a)).toEqual(['node-b']);
    expect(peerNames(c, b)).toEqual(['node-a']);
    expect((await call(c, 'POST', '/v1/admin/nodes/ghost/approve')).status).toBe(404);
    const audit = (await call(c, 'GET', '/v1/admin/audit')).body as Array<{ action: string; details: Record<string, unknown> }>;
    expect(audit.filter((e) => e.action === 'node.approved').map((e) => e.details.name)).toEqual(['node-a', 'node-b']);
    // The setting survives a restart; without the flag nodes join at once.
    await c.close();
    const c2 = await start();
    const d = await enroll(c2, 'node-d');
    expect(peerNames(c2, d)).toEqual([]);
    await c2.close();
    const c3 = await start({ requireApproval: false });
    const e = await enroll(c3, 'node-e');
    expect(peerNames(c3, e)).toEqual(['node-a', 'node-b']);
  });
});

describe('policy on the controller (posture-opa)', () => {
  jest.setTimeout(120_000);

  it('seeds the shipped bundle, filters maps by ACL, quarantines on posture and runs the policy lifecycle', async () => {
    const c = await start(withPlugin());
    const shipped = await call(c, 'GET', '/v1/admin/policy');
    expect(shipped.body.engine).toBe(true);
    const v1 = shipped.body.active.version as string;
    expect(shipped.body.active.source).toMatch(/policies\/dist\/bundle\.tgz$/);
    const a = await enroll(c, 'node-a', { tags: ['a'] });
    const b = await enroll(c, 'node-b', { tags: ['b'] });
    const cc = await enroll(c, 'node-c', { tags: ['c'] });
    // Shipped data allows everything: full mesh, with a filter and the version extension.
    expect(peerNames(c, a)).toEqual(['node-b', 'node-c']);
    expect(mapOf(c, a).extensions['posture-opa']).toEqual({ version: v1, quarantined: false });
    expect(mapOf(c, a).packetFilter).not.toBeNull();

    // The bundle route serves the active version to signed nodes.
    const bundle = await signed(c, a, 'GET', '/v1/policy/bundle');
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toBe('application/gzip');
    expect(bundle.headers.get('x-trellis-policy-version')).toBe(v1);
    expect((await fetch(`${c.url}/v1/policy/bundle`)).status).toBe(401);

    // A policy that does not compile is refused with opa's words; the version stays.
    const broken = { ...policyFiles(), 'access/access.rego': 'package trellis.access\n\nallow if {\n' };
    const r1 = await call(c, 'POST', '/v1/admin/policy', { files: broken, source: 'broken-dir' });
    expect(r1.status).toBe(422);
    expect(r1.body.error.code).toBe('TRELLIS_ERR_POLICY_COMPILE_FAILED');
    expect(r1.body.error.message).toMatch(/rego_parse_error/);
    expect(r1.body.error.message).toMatch(/broken-dir/);
    expect(r1.body.error.message).not.toMatch(/trellis-policy-/);
    // A policy whose tests fail is refused too.
    const failing = { ...policyFiles(), 'access/extra_test.rego': 'package trellis.access_test\n\ntest_always_fails if {\n\t1 == 2\n}\n' };
    const r2 = await call(c, 'POST', '/v1/admin/policy', { files: failing, source: 'failing-dir' });
    expect(r2.status).toBe(422);
    expect(r2.body.error.code).toBe('TRELLIS_ERR_POLICY_TESTS_FAILED');
    expect(r2.body.error.message).toMatch(/test_always_fails/);
    expect((await call(c, 'GET', '/v1/admin/policy')).body.active.version).toBe(v1);
    expect(mapOf(c, a).extensions['posture-opa']).toEqual({ version: v1, quarantined: false });

    // A good push: A -> B tcp/443 only.
    const good = { ...policyFiles(), 'access/data.json': aclData(A_TO_B_443) };
    const r3 = await call(c, 'POST', '/v1/admin/policy', { files: good, source: 'acl-dir' });
    expect(r3.status).toBe(200);
    const v2 = r3.body.version as string;
    expect(v2).not.toBe(v1);
    expect(r3.body.previousVersion).toBe(v1);
    await until('maps of v2', () => (mapOf(c, b).extensions['posture-opa'] as { version: string }).version === v2);
    expect(peerNames(c, a)).toEqual(['node-b']);
    expect(peerNames(c, b)).toEqual(['node-a']);
    expect(peerNames(c, cc)).toEqual([]);
    expect(mapOf(c, a).packetFilter).toEqual([]);
    expect(mapOf(c, cc).packetFilter).toEqual([]);
    expect(mapOf(c, b).packetFilter).toEqual([
      { srcIps: [a.ipv4, a.ipv6].sort(), dstIps: [b.ipv4, b.ipv6].sort(), proto: 'tcp', dstPorts: [[443, 443]] },
    ]);

    // explain: the decision and the rule behind it.
    const ex = await call(c, 'POST', '/v1/admin/policy/explain', { from: 'node-a', to: 'node-b', proto: 'tcp', port: 443 });
    expect(ex.body).toMatchObject({ allow: true, policyVersion: v2 });
    expect(ex.body.reasons.join(' ')).toMatch(/allowed by rule a-to-b-https/);
    const ex2 = await call(c, 'POST', '/v1/admin/policy/explain', { from: 'node-a', to: 'node-b', proto: 'tcp', port: 22 });
    expect(ex2.body.allow).toBe(false);
    expect(ex2.body.reasons.join(' ')).toMatch(/default deny/);

    // Posture: A reports facts that fail (old OS): B drops A within the batch window.
    expect((await signed(c, a, 'POST', '/v1/node/facts', { facts: compliantFacts() })).status).toBe(200);
    const t0 = Date.now();
    const bad = await signed(c, a, 'POST', '/v1/node/facts', { facts: { ...compliantFacts(), os: { id: 'debian', versionId: '11' } }, posture: { compliant: true, reasons: [] } });
    expect(bad.status).toBe(200);
    await until('B drops A', () => peerNames(c, b).length === 0, 2000);
    const quarantineMs = Date.now() - t0;
    expect(quarantineMs).toBeLessThan(2000);
    expect(mapOf(c, b).packetFilter).toEqual([]);
    // The quarantined node is told why.
    expect(mapOf(c, a).extensions['posture-opa']).toEqual({ version: v2, quarantined: true, reasons: ['debian 11 is older than the required 12'] });
    const audit = (await call(c, 'GET', '/v1/admin/audit?limit=1000')).body as Array<{ action: string; target: string; details: any }>;
    const q = audit.find((e) => e.action === 'posture.quarantine' && e.target === a.id)!;
    expect(q.details.reasons).toEqual(['debian 11 is older than the required 12']);
    expect(q.details.policyVersion).toBe(v2);
    expect(q.details.inputDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(q.details.agentDecision).toBe(true);
    expect(audit.some((e) => e.action === 'posture.deny' && e.target === a.id)).toBe(true);
    expect(audit.some((e) => e.action === 'posture.allow' && e.target === a.id)).toBe(true);

    // Invalid facts: 400, and the decision stays.
    const invalid = await signed(c, a, 'POST', '/v1/node/facts', { facts: { os: 'debian', processes: [1] } });
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { error: { message: string } }).error.message).toMatch(/body\.facts\.os/);
    expect((await c.store.getNode(a.id))!.posture).toMatchObject({ compliant: false, policyVersion: v2 });

    // Compliant again: restored.
    await signed(c, a, 'POST', '/v1/node/facts', { facts: compliantFacts() });
    await until('B sees A again', () => peerNames(c, b).includes('node-a'), 2000);
    const audit2 = (await call(c, 'GET', '/v1/admin/audit?limit=1000')).body as Array<{ action: string; target: string; details: any }>;
    expect(audit2.find((e) => e.action === 'posture.restore' && e.target === a.id)?.details.policyVersion).toBe(v2);

    // Rollback returns to the shipped version (full mesh again).
    const rb = await call(c, 'POST', '/v1/admin/policy/rollback');
    expect(rb.body).toMatchObject({ version: v1, previousVersion: v2 });
    await until('maps of v1', () => (mapOf(c, cc).extensions['posture-opa'] as { version: string }).version === v1);
    expect(peerNames(c, cc)).toEqual(['node-a', 'node-b']);
    const none = await call(c, 'POST', '/v1/admin/policy/rollback');
    expect(none.status).toBe(409);
    expect(none.body.error.code).toBe('TRELLIS_ERR_POLICY_NO_PREVIOUS');

    // The active version survives a restart (it is not re-seeded).
    await c.close();
    const again = await start(withPlugin());
    expect((await call(again, 'GET', '/v1/admin/policy')).body.active.version).toBe(v1);
    expect((await call(again, 'GET', '/v1/admin/policy')).body.versions).toHaveLength(2);
  });

  it('without the plugin: full mesh, no filter, and policy routes say no engine is loaded', async () => {
    const c = await start();
    const a = await enroll(c, 'node-a');
    await enroll(c, 'node-b');
    expect(mapOf(c, a).packetFilter).toBeNull();
    expect(peerNames(c, a)).toEqual(['node-b']);
    const r = await call(c, 'POST', '/v1/admin/policy', { files: { 'x.rego': 'package x' } });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('TRELLIS_ERR_POLICY_ENGINE_MISSING');
    expect((await signed(c, a, 'GET', '/v1/policy/bundle')).status).toBe(404);
  });
});
