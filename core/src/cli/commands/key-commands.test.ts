/**
 * `trellis keys rotate`, `trellis nodes expire`, `trellis nodes --keys` and `keys create
 * --key-expiry` against a real controller in this process: what they print, and that bad input is
 * exit 2 (wrong usage) or 1 (refused) with one line, changing nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ed25519PrivateKey, generateIdentityKeyPair, generateWgKeyPair } from '../../auth/keys';
import { signPossession } from '../../auth/signing';
import { startController, type RunningController } from '../../controller/controller';
import type { CreateKeyResponse, NodeView } from '../../wire';
import { runCli } from '../run-cli';
import { captureIO } from '../testing/capture-io';

let dir: string;
let ctl: RunningController;

const env = () => ({ TRELLIS_LAB_DIR: join(dir, 'no-lab'), TRELLIS_CONTROLLER: ctl.url, TRELLIS_ADMIN_TOKEN: ctl.adminToken });
async function cli(...argv: string[]) {
  const io = captureIO(env());
  const code = await runCli(argv, io);
  return { code, out: io.out, err: io.err };
}
async function nodes(): Promise<NodeView[]> {
  return JSON.parse((await cli('nodes', '--json')).out) as NodeView[];
}

async function enroll(name: string, extra: string[] = []): Promise<void> {
  const key = JSON.parse((await cli('keys', 'create', '--reusable', '--json', ...extra)).out) as CreateKeyResponse;
  const identity = generateIdentityKeyPair();
  const raw = JSON.stringify({ authKey: key.key, name, hostname: name, wgKey: generateWgKeyPair().publicKey, identityKey: identity.publicKey, endpoints: [] });
  const res = await fetch(`${ctl.url}/v1/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signPossession(ed25519PrivateKey(identity), 'POST', '/v1/enroll', raw) },
    body: raw,
  });
  expect(res.status).toBe(200);
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-key-cli-'));
  ctl = await startController({ listen: '127.0.0.1:0', dataDir: join(dir, 'ctl'), log: pino({ level: 'silent' }), batchWindowMs: 10, keySettings: { keyRotation: { default: '7d' } } });
});
afterEach(async () => {
  await ctl.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('trellis keys rotate', () => {
  it('asks one node or every live node, and says an offline node rotates when it comes back', async () => {
    await enroll('n1');
    await enroll('n2');
    const one = await cli('keys', 'rotate', '--node', 'n1');
    expect(one).toEqual({ code: 0, out: 'n1: asked to rotate its WireGuard key (offline: it rotates when it comes back)\n', err: '' });
    expect((await nodes()).map((n) => [n.name, n.rotateRequestedAt !== null])).toEqual(expect.arrayContaining([['n1', true], ['n2', false]]));
    const all = await cli('keys', 'rotate');
    expect(all.out.split('\n').filter(Boolean).sort()).toEqual([
      'n1: asked to rotate its WireGuard key (offline: it rotates when it comes back)',
      'n2: asked to rotate its WireGuard key (offline: it rotates when it comes back)',
    ]);
  });

  it('--wait gives up after --timeout naming the nodes that did not rotate, exit 1', async () => {
    await enroll('n1');
    const r = await cli('keys', 'rotate', '--node', 'n1', '--wait', '--timeout', '1s');
    expect(r.code).toBe(1);
    expect(r.err).toBe('trellis: not rotated within 1s: n1 (offline nodes rotate when they come back; see `trellis nodes --keys`)\n');
  });

  it('bad input: one line, nothing changes', async () => {
    await enroll('n1');
    await cli('nodes', 'revoke', 'n1');
    await enroll('n2');
    const before = JSON.stringify(await nodes());
    expect(await cli('keys', 'rotate', '--node', 'ghost')).toEqual({ code: 1, out: '', err: 'trellis: node "ghost" was not found (TRELLIS_ERR_NOT_FOUND)\n' });
    const revoked = await cli('keys', 'rotate', '--node', 'n1');
    expect(revoked.code).toBe(1);
    expect(revoked.err).toBe('trellis: node "n1" is revoked, so its keys and expiry can no longer change; enroll it again with a new auth key (TRELLIS_ERR_NODE_NOT_LIVE)\n');
    expect(await cli('keys', 'rotate', '--node', 'Bad_Name')).toEqual({
      code: 2,
      out: '',
      err: 'trellis: --node "Bad_Name" is not a valid node name; use lower-case letters, digits and - (not at either end), up to 63 characters; see trellis keys rotate --help\n',
    });
    expect((await cli('keys', 'rotate', '--timeout', '0s', '--wait')).code).toBe(2);
    expect(JSON.stringify(await nodes())).toBe(before);
  });
});

describe('trellis nodes expire', () => {
  it('expires now, or later with --in / --at', async () => {
    await enroll('n1');
    await enroll('n2');
    await enroll('n3');
    expect(await cli('nodes', 'expire', 'n1')).toEqual({ code: 0, out: "node n1 expired: it left every peer's map and must enroll again with an auth key\n", err: '' });
    const later = await cli('nodes', 'expire', 'n2', '--in', '2h');
    expect(later.out).toMatch(/^node n2 expires at \d{4}-\d\d-\d\dT.*Z \(in (1h 59m|2h)\)\n$/);
    const at = new Date(Date.now() + 3 * 86_400_000).toISOString();
    expect((await cli('nodes', 'expire', 'n3', '--at', at)).out).toContain(`node n3 expires at ${at}`);
    const table = (await cli('nodes', '--keys')).out.split('\n');
    expect(table[0]).toMatch(/^NAME\s+KEY AGE\s+ROTATES EVERY\s+NEXT ROTATION\s+IDENTITY EXPIRES\s+NODE EXPIRES$/);
    expect(table[1]).toMatch(/^n1\s+\S+\s+7d\s+in 6d 23h\s+in 89d 23h\s+expired$/);
    expect(table[2]).toMatch(/^n2\s+.*in (1h 59m|2h)$/);
  });

  it('bad input: exit 2 for a malformed or past time, exit 1 for an unknown or expired node; nothing changes', async () => {
    await enroll('n1');
    await cli('nodes', 'expire', 'n1');
    await enroll('n2');
    const before = JSON.stringify(await nodes());
    const past = new Date(Date.now() - 60_000).toISOString();
    const usage = (flag: string, msg: string) => ({ code: 2, out: '', err: `trellis: ${msg}; see trellis nodes expire --help\n` });
    expect(await cli('nodes', 'expire', 'n2', '--at', past)).toEqual(usage('--at', `--at "${past}" is in the past; leave --at out to expire the node now`));
    expect(await cli('nodes', 'expire', 'n2', '--at', 'next tuesday')).toEqual(usage('--at', '--at "next tuesday" is not an RFC 3339 time, e.g. 2026-07-01T12:00:00Z'));
    expect(await cli('nodes', 'expire', 'n2', '--in=-5m')).toEqual(usage('--in', '--in "-5m" is not a duration; use a number with a unit, e.g. 30s, 5m, 1h, 250ms'));
    expect(await cli('nodes', 'expire', 'n2', '--in', '1h', '--at', '2030-01-01T00:00:00Z')).toEqual(usage('', '--in and --at both say when; pass one'));
    expect(await cli('nodes', 'expire', 'ghost')).toEqual({ code: 1, out: '', err: 'trellis: node "ghost" was not found (TRELLIS_ERR_NOT_FOUND)\n' });
    const again = await cli('nodes', 'expire', 'n1', '--in', '1d');
    expect([again.code, again.err]).toEqual([1, 'trellis: node "n1" is expired, so its keys and expiry can no longer change; enroll it again with a new auth key (TRELLIS_ERR_NODE_NOT_LIVE)\n']);
    expect(JSON.stringify(await nodes())).toBe(before);
  });
});

describe('trellis keys create --key-expiry', () => {
  it('gives enrolled nodes that expiry, and refuses a malformed one', async () => {
    await enroll('n1', ['--key-expiry', '12h']);
    const n1 = (await nodes()).find((n) => n.name === 'n1')!;
    expect(n1.expiresAt! - n1.createdAt).toBe(12 * 3_600_000);
    const bad = await cli('keys', 'create', '--key-expiry', '0s');
    expect(bad).toEqual({ code: 2, out: '', err: 'trellis: --key-expiry "0s" is out of range; use between 1m and 3650d; see trellis keys create --help\n' });
  });
});

describe('admin commands with several controllers', () => {
  it('take the list agents take and use the next controller when the first is down', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const dead = `http://127.0.0.1:${(s.address() as { port: number }).port}`;
    await new Promise<void>((r) => s.close(() => r()));
    const io = captureIO({ ...env(), TRELLIS_CONTROLLER: `${dead},${ctl.url}` });
    expect(await runCli(['keys', 'create', '--reusable', '--json'], io)).toBe(0);
    expect((JSON.parse(io.out) as CreateKeyResponse).key).toMatch(/\S{20,}/);
    const listed = captureIO({ ...env(), TRELLIS_CONTROLLER: '' });
    expect(await runCli(['nodes', '--json', '--controller', `${dead},${ctl.url}`], listed)).toBe(0);
    expect(JSON.parse(listed.out)).toEqual([]);
    const bad = captureIO(env());
    expect(await runCli(['nodes', '--controller', `${ctl.url},${ctl.url}/`], bad)).toBe(2);
    expect(bad.err).toContain('lists a controller twice');
  });
});
