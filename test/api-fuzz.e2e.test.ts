/**
 * Fuzzing the controller's API from its OpenAPI document (test/support/openapi-fuzz.ts) over real
 * HTTPS, against a controller with the posture-opa plugin: every operation, every field (free-form
 * facts and details too), with and without valid credentials. Each answer comes within 5 s, is
 * never a 5xx, a 4xx carries { error: { code, message } }, and a refused request leaves every table
 * but the audit log and the spent nonces as it was. The run is bounded (TRELLIS_FUZZ_SECONDS,
 * default 40 s of requests; TRELLIS_FUZZ_RUNS per operation, default 80); `node bench/run.js
 * api-fuzz` runs a longer one.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { trustingFetch } from '../core/src/auth/controller-trust';
import { ed25519PrivateKey, generateIdentityKeyPair, generateWgKeyPair, type KeyPair } from '../core/src/auth/keys';
import { signPossession, signRequest } from '../core/src/auth/signing';
import { initControllerTls, parseSans } from '../core/src/auth/tls-certificates';
import { startController, type RunningController } from '../core/src/controller/controller';
import { createLogger } from '../core/src/log/logger';
import type { CreateKeyResponse, EnrollResponse } from '../core/src/wire';
import { operationsOf, requestFor, urlFor, type FuzzRequest, type Operation } from './support/openapi-fuzz';

const SECONDS = Number(process.env.TRELLIS_FUZZ_SECONDS ?? 40);
const RUNS = Number(process.env.TRELLIS_FUZZ_RUNS ?? 80);
const REQUEST_TIMEOUT_MS = 5000;
jest.setTimeout((SECONDS + 60) * 1000);

let dir: string;
let c: RunningController;
let trusted: typeof fetch;
let node: { id: string; identity: KeyPair };
let authKey: string;
let cookie: string;

const HIGH = 1_000_000;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-fuzz-'));
  const dataDir = join(dir, 'data');
  const tls = await initControllerTls(dataDir, parseSans(''));
  trusted = trustingFetch(readFileSync(tls.files.caCert, 'utf8'));
  const config = join(dir, 'trellis.yaml');
  writeFileSync(config, 'controller:\n  plugins:\n    - name: posture-opa\n');
  c = await startController({
    listen: '127.0.0.1:0',
    dataDir,
    configFile: config,
    log: createLogger('fuzz', 'silent'),
    // The fuzzer is one source sending thousands of requests, many refused: it must reach the handlers, not the limits.
    trust: { limits: { enrollPerMinute: HIGH, consoleLoginPerMinute: HIGH, unauthenticatedPerMinute: HIGH, authFailuresPerWindow: HIGH, nodeEventsPerMinute: HIGH } },
  });
  expect(c.url).toMatch(/^https:/);
  const key = (await (await admin('POST', '/v1/admin/keys', { reusable: true, ttlSeconds: 3600 })).json()) as CreateKeyResponse;
  authKey = key.key;
  const identity = generateIdentityKeyPair();
  const body = JSON.stringify({ authKey, name: 'fuzz-node', hostname: 'fuzz', wgKey: generateWgKeyPair().publicKey, identityKey: identity.publicKey, endpoints: ['127.0.0.1:51820'] });
  const res = await trusted(`${c.url}/v1/enroll`, { method: 'POST', headers: { 'content-type': 'application/json', ...signPossession(ed25519PrivateKey(identity), 'POST', '/v1/enroll', body) }, body });
  expect(res.status).toBe(200);
  node = { id: ((await res.json()) as EnrollResponse).nodeId, identity };
  const login = await trusted(`${c.url}/console/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(c.adminToken)}`, redirect: 'manual' });
  cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  expect(cookie).toMatch(/^trellis_console=/);
}, 120_000);

afterAll(async () => {
  await c?.close();
  rmSync(dir, { recursive: true, force: true });
});

function admin(method: string, path: string, body?: unknown): Promise<Response> {
  return trusted(c.url + path, { method, headers: { authorization: `Bearer ${c.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
}

/** snapshot is the stored state a refused request must not change: every table but the audit log and the spent nonces, without lastSeen. */
function snapshot(): string {
  const db = new Database(join(dir, 'data', 'trellis.db'), { readonly: true });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('audit', 'nonces', 'sqlite_sequence') ORDER BY name").all() as Array<{ name: string }>).map((t) => t.name);
    return tables
      .map((t) => {
        const rows = db.prepare(`SELECT * FROM "${t}" ORDER BY 1`).all() as Array<Record<string, unknown>>;
        return `${t}:${JSON.stringify(rows.map(({ last_seen: _l, ...rest }) => rest))}`;
      })
      .join('\n');
  } finally {
    db.close();
  }
}

type Kind = 'admin' | 'node' | 'enroll' | 'console' | 'open';
function kindOf(op: Operation): Kind {
  if (op.path.startsWith('/v1/admin/')) return 'admin';
  if (op.path === '/v1/enroll') return 'enroll';
  if (op.path.startsWith('/v1/node/') || op.path === '/v1/map/stream' || op.path === '/v1/policy/bundle') return 'node';
  if (op.path.startsWith('/console/api/') || op.path === '/console/logout') return 'console';
  return 'open';
}

/** shown is a request as an error message shows it: at most 300 characters. */
const shown = (op: Operation, req: FuzzRequest) => {
  const u = `${op.method} ${urlFor(op, req)}`;
  return u.length > 300 ? `${u.slice(0, 300)}…` : u;
};

const stats = { requests: 0, byStatus: new Map<number, number>(), operations: 0 };

async function send(op: Operation, req: FuzzRequest): Promise<{ status: number; type: string; text: string }> {
  const url = urlFor(op, req);
  const headers: Record<string, string> = {};
  let raw: string | undefined;
  if (req.body) {
    if ('json' in req.body) {
      let value = req.body.json;
      if (kindOf(op) === 'enroll' && req.authenticated && value !== null && typeof value === 'object' && !Array.isArray(value)) {
        value = { ...(value as object), authKey, identityKey: '' };
      }
      raw = JSON.stringify(value) ?? 'null';
      headers['content-type'] = 'application/json';
    } else {
      raw = req.body.raw;
      headers['content-type'] = req.body.contentType;
    }
  }
  switch (kindOf(op)) {
    case 'admin':
      headers.authorization = req.authenticated ? `Bearer ${c.adminToken}` : 'Bearer wrong-token';
      break;
    case 'node':
      if (req.authenticated) Object.assign(headers, signRequest(ed25519PrivateKey(node.identity), node.id, op.method, url, raw ?? ''));
      break;
    case 'enroll':
      if (req.authenticated && raw !== undefined && raw.includes('"identityKey":""')) {
        const id = generateIdentityKeyPair();
        raw = raw.replace('"identityKey":""', `"identityKey":${JSON.stringify(id.publicKey)}`);
        Object.assign(headers, signPossession(ed25519PrivateKey(id), 'POST', url, raw));
      }
      break;
    case 'console':
      if (req.authenticated) headers.cookie = cookie;
      break;
    case 'open':
      break;
  }
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), REQUEST_TIMEOUT_MS);
  try {
    const res = await trusted(c.url + url, { method: op.method, headers, body: op.method === 'GET' || op.method === 'HEAD' ? undefined : raw, signal: ac.signal, redirect: 'manual' });
    const type = res.headers.get('content-type') ?? '';
    // A stream that opened is an answer; it is not read to its (never coming) end.
    const text = type.startsWith('text/event-stream') ? (await res.body?.cancel(), '') : await res.text();
    return { status: res.status, type, text };
  } catch (err) {
    if (ac.signal.aborted) throw new Error(`${op.method} ${url.slice(0, 300)}: no answer within ${REQUEST_TIMEOUT_MS} ms`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

test('every operation answers fuzzed input without a crash, a 5xx, a hang, or a change on refusal', async () => {
  const doc = (await (await trusted(`${c.url}/v1/openapi.json`)).json()) as Parameters<typeof operationsOf>[0];
  const ops = operationsOf(doc);
  expect(ops.length).toBeGreaterThan(30);
  const perOpMs = Math.floor((SECONDS * 1000) / ops.length);
  const started = Date.now();
  for (const op of ops) {
    stats.operations++;
    // Each operation gets its share of the time; runs past it end at once (fast-check's own time
    // limit would leave the request in flight while the next operation snapshots the store).
    const deadline = Date.now() + perOpMs;
    await fc.assert(
      fc.asyncProperty(requestFor(op), async (req) => {
        if (Date.now() > deadline) return;
        const before = snapshot();
        const res = await send(op, req);
        stats.requests++;
        stats.byStatus.set(res.status, (stats.byStatus.get(res.status) ?? 0) + 1);
        if (res.status >= 500) throw new Error(`${shown(op, req)} answered ${res.status}: ${res.text.slice(0, 300)}`);
        if (res.status >= 400) {
          if (res.type.startsWith('application/json')) {
            const body = JSON.parse(res.text) as { error?: { code?: unknown; message?: unknown } };
            if (typeof body.error?.code !== 'string' || !String(body.error.code).startsWith('TRELLIS_ERR_') || typeof body.error.message !== 'string') {
              throw new Error(`${shown(op, req)} answered ${res.status} without a catalogued error body: ${res.text.slice(0, 200)}`);
            }
          } else if (!op.path.startsWith('/console')) {
            throw new Error(`${shown(op, req)} answered ${res.status} as ${res.type}`);
          }
          const after = snapshot();
          if (after !== before) {
            const b = before.split('\n');
            const changed = after.split('\n').filter((line, i) => line !== b[i]).map((line) => line.slice(0, 400));
            if (process.env.TRELLIS_FUZZ_DIFF) writeFileSync(process.env.TRELLIS_FUZZ_DIFF, `${shown(op, req)}\n--- before\n${before}\n--- after\n${after}\n`);
            throw new Error(`${shown(op, req)} was refused (${res.status}) but changed the store: ${changed.join(' | ')}`);
          }
        }
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
  }
  const elapsedS = (Date.now() - started) / 1000;
  // The controller is still there and well.
  expect((await trusted(`${c.url}/healthz`)).status).toBe(200);
  expect((await (await admin('GET', '/v1/admin/audit/verify')).json()) as { ok: boolean }).toMatchObject({ ok: true });
  const summary = { operations: stats.operations, requests: stats.requests, seconds: Math.round(elapsedS), byStatus: Object.fromEntries([...stats.byStatus].sort((a, b) => a[0] - b[0])) };
  process.stdout.write(`api-fuzz: ${JSON.stringify(summary)}\n`);
  if (process.env.TRELLIS_FUZZ_REPORT) writeFileSync(process.env.TRELLIS_FUZZ_REPORT, JSON.stringify(summary, null, 2));
  expect(stats.requests).toBeGreaterThan(ops.length * 5);
  expect(elapsedS).toBeLessThanOrEqual(SECONDS + 15);
});
