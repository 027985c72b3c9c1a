/**
 * Issue 13, tests 2 and 4 and the identity lifetime, on the lab: a node whose key expires (now,
 * or at a time set with `trellis nodes expire`) leaves every peer within 2 s and its requests are
 * refused with TRELLIS_ERR_NODE_EXPIRED; a node that stayed away past its identity lifetime is
 * refused with TRELLIS_ERR_IDENTITY_EXPIRED; a revoked node leaves within 2 s and cannot come
 * back with its WireGuard or its identity key, only as a new node with new keys.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ed25519PrivateKey, generateIdentityKeyPair, generateWgKeyPair, type KeyPair } from '../core/src/auth/keys';
import { signPossession, signRequest } from '../core/src/auth/signing';
import type { NodeIdentity } from '../core/src/agent/identity';
import { Lab } from '../core/src/lab/lab';
import { ROUTES, type AuditEvent } from '../core/src/wire';
import { peerNames, ping } from './support/mesh';
import { waitFor } from './support/wait';

jest.setTimeout(300_000);

const run = promisify(execFile);
const CLI = resolve(__dirname, '../core/dist/cli/main.js');
const NODES = ['n1', 'n2', 'n3', 'n4', 'n5'];
let lab: Lab;
let dir: string;

const identityOf = (name: string) => JSON.parse(readFileSync(join(lab.node(name).stateDir, 'identity.json'), 'utf8')) as NodeIdentity;
const ipOf = (name: string) => lab.node(name).addresses!.ipv4;

/** trellis runs the real command against the lab's controller. */
async function trellis(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const env = { ...process.env, TRELLIS_CONTROLLER: lab.controllerUrl, TRELLIS_LAB_DIR: lab.dir };
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args, '--admin-token-file', join(lab.state.controller!.dataDir, 'admin.token')], { env });
    return { code: 0, out: stdout, err: stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout, err: e.stderr };
  }
}

/** signedCall sends a signed node request as the identity saved earlier (the node may have dropped it since). */
async function signedCall(id: NodeIdentity, method: 'GET' | 'POST', route: string, body?: unknown) {
  const raw = body === undefined ? '' : JSON.stringify(body);
  const headers = signRequest(ed25519PrivateKey(id.identity), id.nodeId!, method, route, raw);
  const res = await lab.controllerFetch(route, { method, headers: { ...headers, ...(raw ? { 'content-type': 'application/json' } : {}) }, body: raw || undefined });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
}

/** enroll tries to enrol as an agent would, signing with the identity key it enrols (which it holds). */
async function enroll(name: string, wgKey: string, identity: KeyPair) {
  const raw = JSON.stringify({ authKey: lab.state.authKey, name, hostname: name, wgKey, identityKey: identity.publicKey, endpoints: [] });
  const res = await lab.controllerFetch(ROUTES.enroll, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signPossession(ed25519PrivateKey(identity), 'POST', ROUTES.enroll, raw) },
    body: raw,
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
}

/** gone waits until no other live lab node lists `name`, and returns how long that took. */
async function gone(name: string, others: string[], started: number, timeoutMs = 5_000): Promise<number> {
  await waitFor(`every peer drops ${name}`, async () => (await Promise.all(others.map((n) => peerNames(lab, n)))).every((l) => !l.includes(name)), timeoutMs, 25);
  return Date.now() - started;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-expiry-e2e-'));
  const configFile = join(dir, 'lab-config.json');
  writeFileSync(configFile, JSON.stringify({ controller: { settings: { identityLifetime: '20s' } } }));
  lab = await Lab.up({ nodes: NODES.length, configFile });
});

afterAll(async () => {
  await lab?.down();
  rmSync(dir, { recursive: true, force: true });
});

test('`trellis nodes expire n5`: gone from every peer within 2 s, its requests refused with NODE_EXPIRED', async () => {
  const id = identityOf('n5');
  expect(await ping(lab, 'n1', ipOf('n5'))).toBe(true);
  const started = Date.now();
  const r = await trellis('nodes', 'expire', 'n5');
  expect(r).toMatchObject({ code: 0, out: "node n5 expired: it left every peer's map and must enroll again with an auth key\n" });
  const ms = await gone('n5', ['n1', 'n2', 'n3', 'n4'], started);
  process.stdout.write(`[key-expiry] n5 expired now: gone from every peer after ${ms} ms\n`);
  expect(ms).toBeLessThanOrEqual(2000);
  expect(await ping(lab, 'n1', ipOf('n5'), 1)).toBe(false);
  const refused = await signedCall(id, 'GET', ROUTES.nodeKeys);
  expect([refused.status, refused.body.error?.code]).toEqual([403, 'TRELLIS_ERR_NODE_EXPIRED']);
  expect(refused.body.error?.message).toBe('node "n5" key expired; re-enroll it with a new auth key');
  // The agent heard it too: no peers left, and it dropped the dead identity for a fresh one.
  await waitFor('n5 clears its tunnels', async () => (await lab.status('n5')).peers.length === 0, 10_000, 100);
  await waitFor('n5 makes a fresh identity', async () => identityOf('n5').nodeId === null, 10_000, 100);
});

test('`trellis nodes expire n4 --in 3s`: n4 stays until then, then leaves every peer within 2 s', async () => {
  const r = await trellis('nodes', 'expire', 'n4', '--in', '3s');
  expect(r.code).toBe(0);
  const at = Date.parse(/expires at (\S+)/.exec(r.out)![1]);
  expect(await peerNames(lab, 'n1')).toContain('n4');
  await new Promise((res) => setTimeout(res, Math.max(0, at - Date.now() - 500)));
  expect(await peerNames(lab, 'n1')).toContain('n4');
  const ms = await gone('n4', ['n1', 'n2', 'n3'], at);
  process.stdout.write(`[key-expiry] n4 expired at its time: gone from every peer ${ms} ms after it\n`);
  expect(ms).toBeLessThanOrEqual(2000);
});

test('a node away past its identity lifetime is expired, and refused with IDENTITY_EXPIRED when it comes back', async () => {
  const id = identityOf('n3');
  await lab.stopAgent('n3');
  const views = (await (await lab.adminFetch(ROUTES.adminNodes)).json()) as Array<{ name: string; identityExpiresAt: number | null; revoked: boolean }>;
  const expiresAt = views.find((n) => n.name === 'n3' && !n.revoked)!.identityExpiresAt!;
  expect(await peerNames(lab, 'n1')).toContain('n3');
  const late = await gone('n3', ['n1', 'n2'], expiresAt, 30_000);
  process.stdout.write(`[key-expiry] n3 away: gone from every peer ${late} ms after its identity lapsed\n`);
  expect(late).toBeLessThanOrEqual(2000);
  const refused = await signedCall(id, 'GET', ROUTES.nodeKeys);
  expect([refused.status, refused.body.error?.code]).toEqual([403, 'TRELLIS_ERR_IDENTITY_EXPIRED']);
  expect(refused.body.error?.message).toMatch(/^node "n3" identity credential expired at .*; re-enroll it with a new auth key$/);
  // Coming back it is refused, drops its identity, and waits for a new auth key.
  await lab.startAgent('n3');
  await waitFor('n3 is told its identity expired', async () => readFileSync(lab.node('n3').log, 'utf8').includes('TRELLIS_ERR_IDENTITY_EXPIRED') || identityOf('n3').nodeId === null, 20_000, 200);
  await waitFor('n3 makes a fresh identity', async () => identityOf('n3').nodeId === null, 20_000, 200);
  expect((await lab.status('n3')).peers).toEqual([]);
  const audit = (await (await lab.adminFetch(`${ROUTES.adminAudit}?limit=1000`)).json()) as AuditEvent[];
  expect(audit.some((e) => e.action === 'node.identity.expired' && (e.details as { name: string }).name === 'n3')).toBe(true);
});

test('revocation: gone within 2 s, and neither its WireGuard nor its identity key enrols again', async () => {
  const id = identityOf('n2');
  const started = Date.now();
  expect((await trellis('nodes', 'revoke', 'n2')).code).toBe(0);
  const ms = await gone('n2', ['n1'], started);
  process.stdout.write(`[key-expiry] n2 revoked: gone from every peer after ${ms} ms\n`);
  expect(ms).toBeLessThanOrEqual(2000);
  const refused = await signedCall(id, 'POST', ROUTES.endpoints, { endpoints: [] });
  expect([refused.status, refused.body.error?.code]).toEqual([403, 'TRELLIS_ERR_NODE_REVOKED']);

  // A thief with the device's keys and a valid auth key: refused either way, nothing created.
  const nodesBefore = ((await (await lab.adminFetch(ROUTES.adminNodes)).json()) as unknown[]).length;
  for (const [wgKey, identity] of [
    [id.wg.publicKey, generateIdentityKeyPair()],
    [generateWgKeyPair().publicKey, id.identity],
    [id.wg.publicKey, id.identity],
  ] as const) {
    const r = await enroll('n2', wgKey, identity);
    expect([r.status, r.body.error?.code]).toEqual([409, 'TRELLIS_ERR_KEY_REVOKED']);
    expect(r.body.error?.message).toMatch(/key belonged to node "n2", which was revoked; a revoked node's keys never enroll again/);
  }
  expect(((await (await lab.adminFetch(ROUTES.adminNodes)).json()) as unknown[]).length).toBe(nodesBefore);

  // The agent itself dropped the dead keys: restarted with the auth key it enrols as a new node with new ones.
  await waitFor('n2 makes a fresh identity', async () => identityOf('n2').nodeId === null, 10_000, 100);
  await lab.stopAgent('n2');
  if (existsSync(join(lab.node('n2').stateDir, 'identity.json'))) unlinkSync(join(lab.node('n2').stateDir, 'identity.json'));
  await lab.startAgent('n2');
  await waitFor('n2 is back as a new node', async () => (await peerNames(lab, 'n1')).includes('n2'), 30_000, 100);
  const back = identityOf('n2');
  expect(back.nodeId).not.toBe(id.nodeId);
  expect(back.wg.publicKey).not.toBe(id.wg.publicKey);
  expect(await ping(lab, 'n1', (await lab.status('n2')).node.addresses!.ipv4)).toBe(true);
});
