/**
 * Control-plane trust on a real lab (TLS by default: the lab ran `controller init`):
 * 1. an agent given the wrong CA, or the wrong CA fingerprint, is refused; the right fingerprint is
 *    trusted on first use and pinned; plain http:// to the controller's non-loopback address is
 *    refused without --insecure (agent and admin CLI alike).
 * 2. re-enrolment without the node's private identity key is refused and changes nothing; a revoked
 *    node cannot enrol again with its keys; a revoked auth key enrols nothing.
 * 3. a flood of 2,000 bad console logins gets 429s and adds a bounded number of audit rows.
 * 4. editing, deleting, reordering or inserting one audit row in SQLite is detected by
 *    `trellis audit verify`, offline on a copy of the database and online after tampering the live one.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { certificateFingerprint } from '../core/src/auth/controller-trust';
import { ed25519PrivateKey, generateIdentityKeyPair, type KeyPair } from '../core/src/auth/keys';
import { signPossession } from '../core/src/auth/signing';
import { createCertificateAuthority } from '../core/src/auth/tls-certificates';
import { defaultCliPath, Lab } from '../core/src/lab/lab';
import { auditEntryHash } from '../core/src/store/audit-chain';
import { ROUTES, type AuditEvent, type AuditVerifyReport, type CreateKeyResponse, type NodeView } from '../core/src/wire';
import { waitFor } from './support/wait';

jest.setTimeout(240_000);

const CLI = defaultCliPath();
let lab: Lab;
let dir: string;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-trust-e2e-'));
  // A short failure window, so the flood's summary row is written within the test.
  const config = join(dir, 'trellis.yaml');
  writeFileSync(config, 'controller:\n  settings:\n    limits: { authFailureWindow: 5s }\n    audit: { checkpointEvery: 20 }\n');
  lab = await Lab.up({ nodes: 2, configFile: config });
  url = lab.controllerUrl;
});

afterAll(async () => {
  try {
    await lab?.down();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}
/** trellis runs the CLI in a node's namespace (another machine on the lab's bridge), with no lab to fall back on. */
function trellisIn(ns: string, args: string[], timeoutMs = 30_000): Ran {
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, CLI, ...args], { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, TRELLIS_LAB_DIR: join(dir, 'no-lab') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** trellis runs the CLI beside the lab (it finds the running lab, its token and its CA). */
function trellis(args: string[]): Ran {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function createKey(): Promise<CreateKeyResponse> {
  const res = await lab.adminFetch(ROUTES.adminKeys, { method: 'POST', body: JSON.stringify({ reusable: true, ttlSeconds: 3600 }) });
  expect(res.status).toBe(200);
  return (await res.json()) as CreateKeyResponse;
}

describe('1. TLS', () => {
  test('an agent with a wrong CA or fingerprint is refused; the right fingerprint is pinned on first use', async () => {
    const key = await createKey();
    const wrongCa = join(dir, 'wrong-ca.crt');
    writeFileSync(wrongCa, (await createCertificateAuthority('Not the lab CA')).certPem);
    const base = (state: string) => ['up', '--controller', url, '--name', 'tls-probe', '--state-dir', join(dir, state), '--iface', 'trltls0', '--listen-port', '51830', '--probe-port', '51998', '--auth-key', key.key];

    const wrong = trellisIn('trl-n1', [...base('s-wrong'), '--ca', wrongCa]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/TRELLIS_ERR_TLS_UNTRUSTED/);
    expect(wrong.stderr).toMatch(/is not trusted/);

    const badFp = trellisIn('trl-n1', [...base('s-fp'), '--ca-fingerprint', `sha256:${'ab'.repeat(32)}`]);
    expect(badFp.code).toBe(1);
    expect(badFp.stderr).toMatch(/no certificate the controller presented has fingerprint sha256:abab/);

    // Nothing enrolled from either.
    const nodes = (await (await lab.adminFetch(ROUTES.adminNodes)).json()) as NodeView[];
    expect(nodes.map((n) => n.name).sort()).toEqual(['n1', 'n2']);

    // The fingerprint `controller init` printed: trusted on first use, pinned, enrolled.
    const fingerprint = certificateFingerprint(lab.controllerCa()!);
    const state = join(dir, 's-tofu');
    const agent = spawn('ip', ['netns', 'exec', 'trl-n1', process.execPath, CLI, ...base('s-tofu'), '--ca-fingerprint', fingerprint], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    agent.stdout.on('data', (d: Buffer) => (out += d.toString()));
    agent.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor('the agent pins the CA and enrols', async () => {
        if (agent.exitCode !== null) throw new Error(`agent exited ${agent.exitCode}: ${out.slice(-2000)}`);
        const id = existsSync(join(state, 'identity.json')) ? (JSON.parse(readFileSync(join(state, 'identity.json'), 'utf8')) as { nodeId: string | null }) : null;
        return id?.nodeId ? id : null;
      }, 60_000, 200);
      expect(certificateFingerprint(readFileSync(join(state, 'controller-ca.pem'), 'utf8'))).toBe(fingerprint);
    } finally {
      const exited = new Promise((r) => agent.once('exit', r));
      agent.kill('SIGTERM');
      await exited;
    }
    // Later starts use the pin: a different fingerprint now is refused outright.
    const mismatch = trellisIn('trl-n1', [...base('s-tofu'), '--ca-fingerprint', `sha256:${'cd'.repeat(32)}`]);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toMatch(/pinned the CA sha256:[0-9a-f]{64}/);
  });

  test('plain http:// to a non-loopback controller is refused without --insecure', async () => {
    const httpUrl = url.replace(/^https:/, 'http:');
    const agent = trellisIn('trl-n1', ['up', '--controller', httpUrl, '--name', 'plain', '--state-dir', join(dir, 's-plain'), '--iface', 'trlplain0', '--auth-key', 'x']);
    expect(agent.code).toBe(2);
    expect(agent.stderr).toMatch(/refusing plain http to http:\/\/198\.18\.0\.1:\d+/);
    expect(agent.stderr).toMatch(/--insecure/);
    const admin = trellis(['nodes', '--controller', httpUrl, '--admin-token-file', join(lab.describe().controller.dataDir, 'admin.token')]);
    expect(admin.code).toBe(2);
    expect(admin.stderr).toMatch(/refusing plain http/);
    // The https URL with the lab's CA works for the same command.
    expect(trellis(['nodes', '--json']).code).toBe(0);
    // And a client that trusts only the system's CAs cannot talk to it at all.
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});

describe('2. identity', () => {
  /** enroll posts an enrolment signed with `signer` and returns its status and error code. */
  async function enroll(body: Record<string, unknown>, signer: KeyPair): Promise<{ status: number; code: string | null }> {
    const raw = JSON.stringify(body);
    const res = await lab.controllerFetch(ROUTES.enroll, { method: 'POST', headers: { 'content-type': 'application/json', ...signPossession(ed25519PrivateKey(signer), 'POST', ROUTES.enroll, raw) }, body: raw });
    const json = (await res.json()) as { error?: { code: string } };
    return { status: res.status, code: json.error?.code ?? null };
  }

  test('re-enrolment without the private identity key is refused and changes nothing', async () => {
    const key = await createKey();
    const n2 = lab.node('n2');
    const id = JSON.parse(readFileSync(join(n2.stateDir, 'identity.json'), 'utf8')) as { nodeId: string; name: string; wg: KeyPair; identity: KeyPair };
    const before = (await (await lab.adminFetch(ROUTES.adminNodes)).json()) as NodeView[];
    // Everything public about n2, a usable auth key, but not n2's private identity key.
    const body = { authKey: key.key, name: 'n2', hostname: 'n2', wgKey: id.wg.publicKey, identityKey: id.identity.publicKey, endpoints: [`${n2.underlay}:51820`] };
    expect(await enroll(body, generateIdentityKeyPair())).toEqual({ status: 401, code: 'TRELLIS_ERR_ENROLL_PROOF_INVALID' });
    const unsigned = await lab.controllerFetch(ROUTES.enroll, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(unsigned.status).toBe(401);
    const after = (await (await lab.adminFetch(ROUTES.adminNodes)).json()) as NodeView[];
    const strip = (ns: NodeView[]) => ns.map(({ lastSeen: _l, online: _o, ...rest }) => rest);
    expect(strip(after)).toEqual(strip(before));
  });

  test('a revoked node cannot enrol again with its keys, and a revoked auth key enrols nothing', async () => {
    const key = await createKey();
    const n2 = lab.node('n2');
    const id = JSON.parse(readFileSync(join(n2.stateDir, 'identity.json'), 'utf8')) as { wg: KeyPair; identity: KeyPair };
    expect(trellis(['nodes', 'revoke', 'n2']).code).toBe(0);
    const body = { authKey: key.key, name: 'n2-again', hostname: 'n2', wgKey: id.wg.publicKey, identityKey: id.identity.publicKey, endpoints: [`${n2.underlay}:51820`] };
    // With its own private key, so the proof holds: the keys themselves are refused.
    expect(await enroll(body, id.identity)).toEqual({ status: 409, code: 'TRELLIS_ERR_KEY_REVOKED' });

    const revoked = JSON.parse(trellis(['keys', 'revoke', key.id, '--reason', 'leaked', '--json']).stdout) as { revoked: boolean };
    expect(revoked.revoked).toBe(true);
    const fresh = generateIdentityKeyPair();
    const wg = generateIdentityKeyPair(); // any 32-byte public key will do for wgKey here
    expect(await enroll({ authKey: key.key, name: 'newcomer', hostname: 'x', wgKey: wg.publicKey, identityKey: fresh.publicKey, endpoints: [] }, fresh)).toEqual({ status: 401, code: 'TRELLIS_ERR_ENROLL_KEY_REVOKED' });
    const audit = JSON.parse(trellis(['audit', '--type', 'admin.key.revoked,auth', '--json']).stdout) as AuditEvent[];
    expect(audit.some((e) => e.action === 'admin.key.revoked' && e.target === key.id && e.details.reason === 'leaked')).toBe(true);
    expect(audit.filter((e) => e.action === 'auth.failure').map((e) => e.details.code)).toEqual(expect.arrayContaining(['TRELLIS_ERR_ENROLL_PROOF_INVALID', 'TRELLIS_ERR_KEY_REVOKED', 'TRELLIS_ERR_ENROLL_KEY_REVOKED']));
  });
});

describe('3. abuse limits', () => {
  test('2,000 bad console logins get 429 with Retry-After and add a bounded number of audit rows', async () => {
    const head = (await (await lab.adminFetch(`${ROUTES.adminAudit}?limit=1`)).json()) as AuditEvent[];
    const from = head[0]!.seq;
    const statuses: Record<number, number> = {};
    let retryAfter: string | null = null;
    const started = Date.now();
    for (let i = 0; i < 2000; i++) {
      const res = await lab.controllerFetch('/console/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=guess-${i}` });
      await res.arrayBuffer();
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status === 429) retryAfter ??= res.headers.get('retry-after');
    }
    const tookMs = Date.now() - started;
    expect(statuses[401]).toBeLessThanOrEqual(20);
    expect(statuses[429]).toBeGreaterThanOrEqual(1980);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    // Each failure window (5 s here) ends with one summary row; wait until every refused request is summed.
    const mine = (e: AuditEvent) => e.actor === 'remote:198.18.0.1';
    const { value: rows } = await waitFor('every failure window is summed up', async () => {
      const r = ((await (await lab.adminFetch(`${ROUTES.adminAudit}?afterSeq=${from}&type=auth&limit=1000`)).json()) as AuditEvent[]).filter(mine);
      const summed = r.filter((e) => e.action === 'auth.failure.summary').reduce((n, e) => n + Number(e.details.rateLimited), 0);
      return summed === statuses[429] ? r : null;
    }, 30_000);
    const windows = Math.ceil(tookMs / 5000) + 1;
    console.log(`flood: ${JSON.stringify(statuses)} in ${tookMs} ms; audit rows: ${rows.length} over ${windows} windows (${rows.filter((e) => e.action === 'auth.failure').length} one by one, ${rows.filter((e) => e.action === 'auth.failure.summary').length} summaries)`);
    // At most the failures themselves (at most 10 per source and window one by one; earlier tests'
    // failures from this address may have used part of that) plus one summary per window: not 2,000.
    const oneByOne = rows.filter((e) => e.action === 'auth.failure').length;
    expect(rows.length).toBeLessThanOrEqual((statuses[401] ?? 0) + windows);
    expect(oneByOne).toBeGreaterThan(0);
    expect(oneByOne).toBeLessThanOrEqual(statuses[401]!);
    expect(rows.filter((e) => e.action === 'auth.failure.summary').length).toBeLessThanOrEqual(windows);
  });
});

describe('4. tamper-evident audit log', () => {
  /** copyDb snapshots the live database (SQLite's backup, consistent while the controller writes) with the public key beside it. */
  async function copyDb(name: string): Promise<string> {
    const ctl = lab.describe().controller.dataDir;
    const to = join(dir, name);
    const src = new Database(join(ctl, 'trellis.db'), { readonly: true });
    mkdirSync(to, { recursive: true });
    await src.backup(join(to, 'trellis.db'));
    src.close();
    copyFileSync(join(ctl, 'signing.pub'), join(to, 'signing.pub'));
    return to;
  }
  function tamper(d: string, sql: (db: Database.Database) => void): void {
    const db = new Database(join(d, 'trellis.db'));
    db.exec('DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;');
    sql(db);
    db.close();
  }
  const verify = (d: string) => {
    const r = trellis(['audit', 'verify', '--offline', '--data-dir', d, '--json']);
    return { code: r.code, report: JSON.parse(r.stdout) as AuditVerifyReport };
  };

  test('the live chain verifies, with signed checkpoints', async () => {
    const online = trellis(['audit', 'verify']);
    expect(online.code).toBe(0);
    expect(online.stdout).toMatch(/^audit chain OK: \d+ entries/);
    const clean = verify(await copyDb('clean'));
    expect(clean.code).toBe(0);
    expect(clean.report.ok).toBe(true);
    expect(clean.report.checkpoints.total).toBeGreaterThan(0);
    expect(clean.report.checkpoints.verified).toBe(clean.report.checkpoints.total);
  });

  test.each([
    ['edited', (db: Database.Database) => db.prepare("UPDATE audit SET actor = 'nobody' WHERE seq = 12").run(), 12],
    ['deleted', (db: Database.Database) => db.prepare('DELETE FROM audit WHERE seq = 12').run(), 12],
    [
      'reordered',
      (db: Database.Database) => {
        db.prepare('UPDATE audit SET seq = -1 WHERE seq = 12').run();
        db.prepare('UPDATE audit SET seq = 12 WHERE seq = 15').run();
        db.prepare('UPDATE audit SET seq = 15 WHERE seq = -1').run();
      },
      12,
    ],
    [
      'inserted',
      (db: Database.Database) => {
        const prev = db.prepare('SELECT * FROM audit WHERE seq = 11').get() as { hash: string };
        db.prepare('UPDATE audit SET seq = -seq WHERE seq >= 12').run();
        db.prepare('UPDATE audit SET seq = -seq + 1 WHERE seq < 0').run();
        const forged = { seq: 12, at: Date.now(), action: 'admin.key.created', actor: 'admin', target: 'forged', details: { reusable: true }, prevHash: prev.hash };
        db.prepare('INSERT INTO audit (seq, at, action, actor, target, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(
          forged.seq, forged.at, forged.action, forged.actor, forged.target, JSON.stringify(forged.details), forged.prevHash, auditEntryHash(forged),
        );
      },
      12,
    ],
  ] as const)('a %s row is detected offline and named', async (kind, change, seq) => {
    const d = await copyDb(`tamper-${kind}`);
    tamper(d, change);
    const { code, report } = verify(d);
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    expect(report.firstBad).toMatchObject({ kind, seq });
    const human = trellis(['audit', 'verify', '--offline', '--data-dir', d]);
    expect(human.stdout).toMatch(new RegExp(`^audit chain BROKEN at entry ${seq} \\(${kind}\\)`));
  });

  test('an entry edited in the live database is reported by the running controller', async () => {
    await lab.stopController();
    tamper(lab.describe().controller.dataDir, (db) => db.prepare("UPDATE audit SET details = '{}' WHERE seq = 5").run());
    await lab.startController();
    const online = trellis(['audit', 'verify', '--json']);
    expect(online.code).toBe(1);
    expect((JSON.parse(online.stdout) as AuditVerifyReport).firstBad).toMatchObject({ seq: 5, kind: 'edited' });
  });
});
