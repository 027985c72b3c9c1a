/**
 * Bad input against a real controller over real HTTP: each request gets a clear 4xx with an error
 * code, and the store (nodes, keys) is unchanged afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519PrivateKey, generateIdentityKeyPair, generateWgKeyPair, type KeyPair } from '../core/src/auth/keys';
import { signPossession, signRequest } from '../core/src/auth/signing';
import { startController } from '../core/src/controller/controller';
import { BODY_LIMITS, ROUTES, type CreateKeyResponse, type EnrollResponse } from '../core/src/wire';
import type { ControllerHandle } from '../core/src/controller/types';
import { createLogger } from '../core/src/log/logger';

jest.setTimeout(30_000);

let dir: string;
let ctl: ControllerHandle;

const admin = (path: string, init: RequestInit = {}) =>
  fetch(ctl.url + path, { ...init, headers: { authorization: `Bearer ${ctl.adminToken}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });

async function createKey(body: object): Promise<CreateKeyResponse> {
  const res = await admin(ROUTES.adminKeys, { method: 'POST', body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return (await res.json()) as CreateKeyResponse;
}

/** Identity keys by public key, so that enrolment requests are signed with the key they name, as an agent does. */
const identities = new Map<string, KeyPair>();
function newIdentity(): KeyPair {
  const pair = generateIdentityKeyPair();
  identities.set(pair.publicKey, pair);
  return pair;
}

function enrollBody(authKey: string, name: string) {
  return JSON.stringify({
    authKey,
    name,
    hostname: name,
    wgKey: generateWgKeyPair().publicKey,
    identityKey: newIdentity().publicKey,
    endpoints: ['198.18.0.50:51820'],
  });
}

/** proofFor signs an enrolment body with the identity key it names (a throwaway key when it names none of ours). */
function proofFor(body: string): Record<string, string> {
  let named: string | undefined;
  try {
    named = (JSON.parse(body) as { identityKey?: string }).identityKey;
  } catch {
    named = undefined;
  }
  const pair = (named !== undefined ? identities.get(named) : undefined) ?? generateIdentityKeyPair();
  return signPossession(ed25519PrivateKey(pair), 'POST', ROUTES.enroll, body);
}

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(ctl.url + path, { method: 'POST', body, headers: { 'content-type': 'application/json', ...(path === ROUTES.enroll ? proofFor(body) : {}), ...headers } });

/** snapshot is what must not change: every node and key record (volatile liveness fields aside). */
async function snapshot() {
  const nodes = (await (await admin(ROUTES.adminNodes)).json()) as Array<Record<string, unknown>>;
  const keys = await (await admin(ROUTES.adminKeys)).json();
  return { nodes: nodes.map(({ lastSeen: _l, online: _o, ...rest }) => rest), keys };
}

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(10);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-bad-input-'));
  ctl = await startController({ listen: '127.0.0.1:0', dataDir: dir, log: createLogger('test', 'silent') });
});

afterAll(async () => {
  await ctl?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('malformed, oversized and schema-violating bodies', async () => {
  const before = await snapshot();
  await expectError(await post(ROUTES.enroll, '{"authKey": '), 400, 'TRELLIS_ERR_BAD_REQUEST');
  await expectError(await post(ROUTES.enroll, JSON.stringify({ x: 'y'.repeat(BODY_LIMITS.enroll + 10) })), 413, 'TRELLIS_ERR_BODY_TOO_LARGE');
  await expectError(await post(ROUTES.enroll, JSON.stringify({ authKey: 'k', name: 'a' })), 400, 'TRELLIS_ERR_BAD_REQUEST');
  await expectError(await admin(ROUTES.adminKeys, { method: 'POST', body: JSON.stringify({ ttlSeconds: -5 }) }), 400, 'TRELLIS_ERR_BAD_REQUEST');
  await expectError(await admin(ROUTES.adminKeys, { method: 'POST', body: '[' }), 400, 'TRELLIS_ERR_BAD_REQUEST');
  expect(await snapshot()).toEqual(before);
});

test('unknown, expired and used-up auth keys', async () => {
  const once = await createKey({ reusable: false, ttlSeconds: 600 });
  const expiring = await createKey({ reusable: true, ttlSeconds: 1 });
  const ok = await post(ROUTES.enroll, enrollBody(once.key, 'first'));
  expect(ok.status).toBe(200);
  await new Promise((r) => setTimeout(r, 1_200));
  const before = await snapshot();
  await expectError(await post(ROUTES.enroll, enrollBody('trellis-auth-nope-nope', 'x1')), 401, 'TRELLIS_ERR_ENROLL_KEY_UNKNOWN');
  await expectError(await post(ROUTES.enroll, enrollBody(expiring.key, 'x2')), 401, 'TRELLIS_ERR_ENROLL_KEY_EXPIRED');
  await expectError(await post(ROUTES.enroll, enrollBody(once.key, 'x3')), 401, 'TRELLIS_ERR_ENROLL_KEY_USED');
  expect(await snapshot()).toEqual(before);
});

test('unsigned, badly signed and replayed node requests', async () => {
  const key = await createKey({ reusable: true, ttlSeconds: 600 });
  const identity = newIdentity();
  const enroll = JSON.parse(enrollBody(key.key, 'signer'));
  enroll.identityKey = identity.publicKey;
  const res = await post(ROUTES.enroll, JSON.stringify(enroll));
  expect(res.status).toBe(200);
  const { nodeId } = (await res.json()) as EnrollResponse;
  const body = JSON.stringify({ endpoints: ['198.18.0.51:51820'] });
  const signed = signRequest(ed25519PrivateKey(identity), nodeId, 'POST', ROUTES.endpoints, body);
  const before = await snapshot();

  await expectError(await post(ROUTES.endpoints, body), 401, 'TRELLIS_ERR_AUTH_MISSING');
  const other = generateIdentityKeyPair();
  const forged = signRequest(ed25519PrivateKey(other), nodeId, 'POST', ROUTES.endpoints, body);
  await expectError(await post(ROUTES.endpoints, body, forged), 401, 'TRELLIS_ERR_AUTH_BAD_SIGNATURE');
  const tampered = JSON.stringify({ endpoints: ['203.0.113.9:51820'] });
  await expectError(await post(ROUTES.endpoints, tampered, signed), 401, 'TRELLIS_ERR_AUTH_BAD_SIGNATURE');
  const stale = signRequest(ed25519PrivateKey(identity), nodeId, 'POST', ROUTES.endpoints, body, Date.now() - 10 * 60_000);
  await expectError(await post(ROUTES.endpoints, body, stale), 401, 'TRELLIS_ERR_AUTH_STALE');
  expect(await snapshot()).toEqual(before);

  // The genuine request is accepted once; the same bytes again are a replay.
  expect((await post(ROUTES.endpoints, body, signed)).status).toBe(200);
  const after = await snapshot();
  await expectError(await post(ROUTES.endpoints, body, signed), 401, 'TRELLIS_ERR_AUTH_REPLAY');
  expect(await snapshot()).toEqual(after);
});
