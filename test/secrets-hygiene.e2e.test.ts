/**
 * Issue 13, test 5: private keys and tokens are written 0600 in directories that are 0700, and no
 * log line ever holds a secret. A debug-logging lab enrols, rotates every WireGuard key, renews
 * every identity, creates an auth key, logs in to the console and pushes a policy; then every log
 * the run wrote (controller, agents, the audit JSON-lines file) and the controller's database are
 * searched for each secret the test knows: every private key any node held (base64 and hex), the
 * controller's signing key, the auth keys, the admin token and the console cookie.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { NodeIdentity } from '../core/src/agent/identity';
import { Lab } from '../core/src/lab/lab';
import { ROUTES, type AuditEvent, type CreateKeyResponse } from '../core/src/wire';
import { waitFor } from './support/wait';

jest.setTimeout(300_000);

const run = promisify(execFile);
const CLI = resolve(__dirname, '../core/dist/cli/main.js');
const NODES = ['n1', 'n2', 'n3'];
let lab: Lab;
let dir: string;
let auditFile: string;
/** Every secret seen during the run, by what it is. */
const secrets = new Map<string, string>();

const identityOf = (name: string) => JSON.parse(readFileSync(join(lab.node(name).stateDir, 'identity.json'), 'utf8')) as NodeIdentity;

/** remember records a secret in the forms it could be logged in. */
function remember(what: string, value: string, base64 = false): void {
  secrets.set(what, value);
  if (base64) {
    secrets.set(`${what} (hex)`, Buffer.from(value, 'base64').toString('hex'));
    secrets.set(`${what} (base64url)`, Buffer.from(value, 'base64').toString('base64url'));
  }
}

function rememberNodeKeys(): void {
  for (const n of NODES) {
    const id = identityOf(n);
    remember(`${n} WireGuard private key ${id.wg.publicKey}`, id.wg.privateKey, true);
    remember(`${n} identity private key ${id.identity.publicKey}`, id.identity.privateKey, true);
  }
}

async function trellis(...args: string[]): Promise<string> {
  const env = { ...process.env, TRELLIS_CONTROLLER: lab.controllerUrl, TRELLIS_LAB_DIR: lab.dir };
  const { stdout } = await run(process.execPath, [CLI, ...args, '--admin-token-file', join(lab.state.controller!.dataDir, 'admin.token')], { env });
  return stdout;
}

/** filesUnder lists every file below dir, recursively. */
function filesUnder(d: string): string[] {
  return readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(d, e.name)) : e.isFile() ? [join(d, e.name)] : []));
}

const mode = (p: string) => statSync(p).mode & 0o777;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-secrets-e2e-'));
  auditFile = join(dir, 'audit.jsonl');
  const configFile = join(dir, 'lab-config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      controller: { plugins: ['posture-opa'], settings: { identityLifetime: '20s', audit: { file: auditFile } } },
      agent: { plugins: [{ name: 'facts-host', config: { processScope: 'netns' } }, 'posture-opa'] },
    }),
  );
  lab = await Lab.up({ nodes: NODES.length, configFile, env: { TRELLIS_LOG_LEVEL: 'debug' } });
  rememberNodeKeys();
});

afterAll(async () => {
  await lab?.down();
  rmSync(dir, { recursive: true, force: true });
});

test('the run: rotate, renew, create a key, log in to the console, push a policy', async () => {
  const before = Object.fromEntries(NODES.map((n) => [n, identityOf(n)]));
  expect(await trellis('keys', 'rotate', '--wait')).toMatch(/rotated, new key/);
  await waitFor('every identity renewed', () => NODES.every((n) => identityOf(n).identity.publicKey !== before[n].identity.publicKey), 40_000, 200);
  for (const n of NODES) expect(identityOf(n).wg.publicKey).not.toBe(before[n].wg.publicKey);
  rememberNodeKeys();

  const dataDir = lab.state.controller!.dataDir;
  remember('admin token', readFileSync(join(dataDir, 'admin.token'), 'utf8').trim());
  remember('controller signing key', (JSON.parse(readFileSync(join(dataDir, 'signing.key'), 'utf8')) as { privateKey: string }).privateKey, true);
  remember('lab auth key', lab.state.authKey!);
  const created = JSON.parse(await trellis('keys', 'create', '--json', '--tags', 'extra')) as CreateKeyResponse;
  remember('created auth key', created.key);
  remember('created auth key secret', created.key.split('-').at(-1)!);

  // A refused enrolment with a real auth key: the key is what must not be logged.
  const refused = await lab.controllerFetch(ROUTES.enroll, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ authKey: created.key, name: 'Not A Name', hostname: 'h', wgKey: 'x', identityKey: 'y', endpoints: [] }),
  });
  expect(refused.status).toBeGreaterThanOrEqual(400);
  expect(refused.status).toBeLessThan(500);

  const login = await lab.controllerFetch(`/console/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: secrets.get('admin token')! }).toString(),
    redirect: 'manual',
  });
  expect(login.status).toBe(303);
  const cookie = /^([^=]+=[^;]+)/.exec(login.headers.get('set-cookie') ?? '')![1];
  remember('console session cookie', cookie.split('=')[1]);
  const page = await lab.controllerFetch(`/console`, { headers: { cookie } });
  expect(page.status).toBe(200);

  expect(await trellis('policy', 'push', resolve(__dirname, '../policies'))).toMatch(/version|active|unchanged/i);
  const audit = (await (await lab.adminFetch(`${ROUTES.adminAudit}?limit=1000`)).json()) as AuditEvent[];
  for (const action of ['node.key.rotated', 'node.identity.renewed', 'console.login']) expect(audit.some((e) => e.action === action)).toBe(true);
});

test('private keys and tokens are 0600 in 0700 directories', () => {
  const dataDir = lab.state.controller!.dataDir;
  const files: string[] = [join(lab.dir, 'state.json'), join(dataDir, 'admin.token'), join(dataDir, 'signing.key'), join(dataDir, 'trellis.db')];
  const dirs: string[] = [lab.dir, dataDir, join(lab.dir, 'nodes'), join(lab.dir, 'logs')];
  for (const n of NODES) {
    files.push(join(lab.node(n).stateDir, 'identity.json'));
    dirs.push(lab.node(n).stateDir);
  }
  const wrong = [
    ...files.filter((f) => mode(f) !== 0o600).map((f) => `${f} is ${mode(f).toString(8)}, not 600`),
    ...dirs.filter((d) => mode(d) !== 0o700).map((d) => `${d} is ${mode(d).toString(8)}, not 700`),
  ];
  // No file under the agents' state dirs or the controller's data dir is readable by others.
  for (const d of [dataDir, ...NODES.map((n) => lab.node(n).stateDir)]) {
    for (const f of filesUnder(d)) if ((mode(f) & 0o077) !== 0 && !f.endsWith('signing.pub') && !f.endsWith('.sock')) wrong.push(`${f} is ${mode(f).toString(8)}`);
  }
  expect(wrong).toEqual([]);
});

test('no log line and no database row holds any of them', async () => {
  expect(secrets.size).toBeGreaterThanOrEqual(NODES.length * 2 * 2 * 3 + 6);
  // The processes write their logs asynchronously: give the last lines up to 5 s to reach the files.
  const expected = ['WireGuard key rotated', 'identity credential renewed', 'node.key.rotated', 'console.login', 'policy'];
  for (let waited = 0; waited < 5000; waited += 100) {
    const text = [...filesUnder(join(lab.dir, 'logs')), auditFile].map((f) => readFileSync(f, 'utf8')).join('\n');
    if (expected.every((said) => text.includes(said))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const logs = [...filesUnder(join(lab.dir, 'logs')), auditFile];
  const stored = [join(lab.state.controller!.dataDir, 'trellis.db'), ...filesUnder(lab.state.controller!.dataDir).filter((f) => /trellis\.db-(wal|shm)$/.test(f))];
  const lines = logs.reduce((n, f) => n + readFileSync(f, 'utf8').split('\n').length, 0);
  process.stdout.write(`[secrets] searched ${logs.length} logs (${lines} lines) and ${stored.length} database files for ${secrets.size} secret forms\n`);
  // The logs cover the run: the agents logged their rotations and renewals, the controller its side.
  const all = logs.map((f) => readFileSync(f, 'utf8')).join('\n');
  for (const said of expected) expect(all).toContain(said);
  const found: string[] = [];
  for (const f of [...logs, ...stored]) {
    const text = readFileSync(f).toString('latin1');
    for (const [what, value] of secrets) if (text.includes(value)) found.push(`${relative(lab.dir, f)} holds the ${what}`);
  }
  expect(found).toEqual([]);
});
