/**
 * The policy lifecycle and identity commands through the real CLI against a real controller
 * process (spawned from core/dist with the posture-opa plugin, temp data dir): exit codes, one-line
 * errors, and the controller's state after each step.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

jest.setTimeout(120_000);

const ROOT = resolve(__dirname, '..');
const CLI = join(ROOT, 'core/dist/cli/main.js');
let dir: string;
let proc: ChildProcess;
let url: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function trellis(...args: string[]): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, TRELLIS_CONTROLLER: url, TRELLIS_ADMIN_TOKEN: readFileSync(join(dir, 'data/admin.token'), 'utf8').trim() },
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const json = <T>(r: Run): T => {
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as T;
};

/** A copy of the shipped policies with one file replaced or added. */
function policyDir(name: string, files: Record<string, string> = {}): string {
  const d = join(dir, name);
  cpSync(join(ROOT, 'policies'), d, { recursive: true, filter: (src) => !src.includes(`${join(ROOT, 'policies', 'dist')}`) });
  for (const [path, text] of Object.entries(files)) writeFileSync(join(d, path), text);
  return d;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-policy-e2e-'));
  const config = join(dir, 'trellis.yaml');
  writeFileSync(config, 'controller:\n  plugins:\n    - name: posture-opa\n');
  proc = spawn(process.execPath, [CLI, 'controller', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--config', config], {
    cwd: ROOT,
    env: { ...process.env, TRELLIS_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  url = await new Promise<string>((resolveUrl, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`controller did not start: ${out}`)), 30_000);
    proc.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1]!);
      }
    });
    proc.once('exit', (code) => reject(new Error(`controller exited with ${code}: ${out}`)));
  });
});

afterAll(async () => {
  if (proc && proc.exitCode === null) {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('trellis policy', () => {
  it('starts with the shipped bundle, refuses bad pushes with opa’s message, activates good ones and rolls back', () => {
    const first = json<{ active: { version: string; source: string } }>(trellis('policy', 'show', '--json'));
    const shipped = first.active.version;
    expect(first.active.source).toMatch(/policies\/dist\/bundle\.tgz$/);

    const broken = trellis('policy', 'push', policyDir('broken', { 'access/access.rego': 'package trellis.access\n\nallow if {\n' }));
    expect(broken.code).toBe(1);
    expect(broken.stderr.trim().split('\n')).toHaveLength(1);
    expect(broken.stderr).toMatch(/^trellis: opa build refused the policies in .*broken.*rego_parse_error.*\(TRELLIS_ERR_POLICY_COMPILE_FAILED\)$/m);

    const failing = trellis(
      'policy',
      'push',
      policyDir('failing', { 'access/extra_test.rego': 'package trellis.access_test\n\ntest_always_fails if {\n\t1 == 2\n}\n' }),
    );
    expect(failing.code).toBe(1);
    expect(failing.stderr.trim().split('\n')).toHaveLength(1);
    expect(failing.stderr).toMatch(/opa test failed .*test_always_fails.*\(TRELLIS_ERR_POLICY_TESTS_FAILED\)$/m);
    expect(json<{ active: { version: string } }>(trellis('policy', 'show', '--json')).active.version).toBe(shipped);

    const acls = { trellis: { acls: { groups: {}, rules: [{ name: 'eng-https', src: ['group:eng'], dst: ['tag:web'], proto: 'tcp', ports: ['443'] }] } } };
    const good = trellis('policy', 'push', policyDir('good', { 'access/data.json': JSON.stringify(acls) }));
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/^policy [0-9a-f]{12} active \(was [0-9a-f]{12}\); PASS: \d+\/\d+\n$/);
    const pushed = json<{ active: { version: string } }>(trellis('policy', 'show', '--json')).active.version;
    expect(pushed).not.toBe(shipped);

    const again = trellis('policy', 'push', policyDir('good-again', { 'access/data.json': JSON.stringify(acls) }));
    expect(again.stdout).toMatch(/is already active/);

    const rb = trellis('policy', 'rollback');
    expect(rb.code).toBe(0);
    expect(rb.stdout).toBe(`policy ${shipped.slice(0, 12)} active again (rolled back from ${pushed.slice(0, 12)})\n`);
    const none = trellis('policy', 'rollback');
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^trellis: policy [0-9a-f]{12} is the first version; .*\(TRELLIS_ERR_POLICY_NO_PREVIOUS\)\n$/);

    const missing = trellis('policy', 'push', join(dir, 'nope'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^trellis: cannot read policy folder .*nope \(ENOENT\); see trellis policy push --help\n$/);
  });

  it('explains decisions with the rules behind them', () => {
    // Back on the ACL that allows group eng to reach tag:web on tcp/443.
    const acls = { trellis: { acls: { rules: [{ name: 'eng-https', src: ['group:eng'], dst: ['tag:web'], proto: 'tcp', ports: ['443'] }] } } };
    expect(trellis('policy', 'push', policyDir('explain', { 'access/data.json': JSON.stringify(acls) })).code).toBe(0);
    expect(trellis('users', 'add', 'alice').code).toBe(0);
    expect(trellis('groups', 'add', 'eng').code).toBe(0);
    expect(trellis('groups', 'add-member', 'eng', 'alice').code).toBe(0);
    // A node to ask about: enrolled with a key tagged web.
    const key = json<{ key: string }>(trellis('keys', 'create', '--tags', 'web', '--json')).key;
    const enrolled = spawnSync(
      process.execPath,
      [
        '-e',
        `const k=require(${JSON.stringify(join(ROOT, 'core/dist/auth/keys.js'))});` +
          `const s=require(${JSON.stringify(join(ROOT, 'core/dist/auth/signing.js'))});` +
          `const id=k.generateIdentityKeyPair();` +
          `const body=JSON.stringify({authKey:${JSON.stringify(key)},name:'web-1',hostname:'web-1',wgKey:k.generateWgKeyPair().publicKey,identityKey:id.publicKey,endpoints:['127.0.0.1:51820']});` +
          `fetch(${JSON.stringify(url)}+'/v1/enroll',{method:'POST',headers:{'content-type':'application/json',...s.signPossession(k.ed25519PrivateKey(id),'POST','/v1/enroll',body)},body}).then(r=>process.exit(r.status===200?0:1))`,
      ],
      { encoding: 'utf8' },
    );
    expect(enrolled.status).toBe(0);

    const allow = trellis('policy', 'explain', '--from', 'alice', '--to', 'web-1', '--port', '443');
    expect(allow.code).toBe(0);
    expect(allow.stdout).toMatch(/^allow: alice -> web-1 tcp\/443 \(policy [0-9a-f]{12}\)\n  - .*allowed by rule eng-https\n$/);
    const deny = json<{ allow: boolean; reasons: string[] }>(trellis('policy', 'explain', '--from', 'alice', '--to', 'web-1', '--port', '22', '--json'));
    expect(deny.allow).toBe(false);
    expect(deny.reasons[0]).toMatch(/denied: no rule allows it \(default deny\)/);

    const noPort = trellis('policy', 'explain', '--from', 'alice', '--to', 'web-1');
    expect(noPort.code).toBe(2);
    expect(noPort.stderr).toBe('trellis: --port is required for tcp; see trellis policy explain --help\n');
    const unknown = trellis('policy', 'explain', '--from', 'mallory', '--to', 'web-1', '--port', '1');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('trellis: node or user "mallory" was not found (TRELLIS_ERR_NOT_FOUND)\n');
  });
});

describe('trellis users and groups', () => {
  it('adds, lists and removes, with one-line errors', () => {
    expect(trellis('users', 'add', 'bob').stdout).toBe('user bob added\n');
    const dup = trellis('users', 'add', 'bob');
    expect(dup.code).toBe(1);
    expect(dup.stderr).toBe('trellis: user "bob" already exists; choose another name or remove it first (TRELLIS_ERR_ALREADY_EXISTS)\n');
    const bad = trellis('users', 'add', 'no spaces');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^trellis: bad request: body\.name must match pattern .*\(TRELLIS_ERR_BAD_REQUEST\)\n$/);
    expect(trellis('users', 'add').code).toBe(2);
    const users = json<Array<{ name: string; groups: string[] }>>(trellis('users', 'list', '--json'));
    expect(users.map((u) => u.name)).toEqual(['alice', 'bob']);
    expect(trellis('users', 'list').stdout).toMatch(/^NAME\s+GROUPS\s+CREATED\nalice\s+eng\s+/);

    expect(trellis('groups', 'add-member', 'eng', 'bob').stdout).toBe('user bob added to group eng; members: alice, bob\n');
    const ghost = trellis('groups', 'add-member', 'eng', 'ghost');
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toMatch(/user "ghost" .* was not found \(TRELLIS_ERR_NOT_FOUND\)\n$/);
    expect(json<Array<{ name: string; members: string[] }>>(trellis('groups', 'list', '--json'))).toEqual([
      expect.objectContaining({ name: 'eng', members: ['alice', 'bob'] }),
    ]);
    expect(trellis('groups', 'remove-member', 'eng', 'bob').code).toBe(0);
    expect(trellis('users', 'remove', 'bob').stdout).toBe('user bob removed; revoked nodes: none; revoked keys: 0\n');
    expect(trellis('groups', 'remove', 'eng').code).toBe(0);
    const gone = trellis('groups', 'remove', 'eng');
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe('trellis: group "eng" was not found (TRELLIS_ERR_NOT_FOUND)\n');
    expect(trellis('nodes', 'approve', 'web-1').stdout).toBe('node web-1 approved\n');
  });
});
