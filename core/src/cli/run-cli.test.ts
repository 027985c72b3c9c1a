import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './run-cli';
import { FIXED_STATUS } from './testing/agent-status-fixture';
import { captureIO } from './testing/capture-io';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'trellis-cli-test-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** An env that points the lab and service lookups at empty dirs, so no real lab or service is consulted. */
const env = () => ({ TRELLIS_LAB_DIR: join(tmp, 'no-lab'), TRELLIS_CONFIG_DIR: join(tmp, 'no-etc') });

async function cli(argv: string[], e: NodeJS.ProcessEnv = env()) {
  const io = captureIO(e);
  const code = await runCli(argv, io);
  return { code, out: io.out, err: io.err };
}

function expectUsage(r: { code: number; out: string; err: string }, message: string, cmd: string) {
  expect(r.code).toBe(2);
  expect(r.out).toBe('');
  expect(r.err).toBe(`trellis: ${message}; see trellis ${cmd} --help\n`);
}

describe('usage errors: exit 2, one line', () => {
  it('unknown flag', async () => {
    expectUsage(await cli(['keys', 'create', '--bogus']), 'unknown flag --bogus', 'keys create');
  });
  it('flag without its value', async () => {
    expectUsage(await cli(['controller', '--listen']), 'flag --listen needs a value', 'controller');
  });
  it('bad duration', async () => {
    expectUsage(
      await cli(['keys', 'create', '--ttl', '10x']),
      '--ttl "10x" is not a duration; use a number with a unit, e.g. 30s, 5m, 1h, 250ms',
      'keys create',
    );
  });
  it('bad tags', async () => {
    const r = await cli(['keys', 'create', '--tags', 'ok,Bad_Tag']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^trellis: --tags: tag "Bad_Tag" is invalid; .*; see trellis keys create --help\n$/);
  });
  it('bad iface', async () => {
    const base = ['up', '--controller', 'http://127.0.0.1:1', '--name', 'n1', '--state-dir', tmp];
    expectUsage(
      await cli([...base, '--iface', 'this-name-is-too-long']),
      '--iface "this-name-is-too-long" is 21 characters long (at most 15)',
      'up',
    );
    expectUsage(await cli([...base, '--iface', 'wg 0']), '--iface "wg 0" may only hold letters, digits, _ and -', 'up');
  });
  it('bad port and probe interval', async () => {
    const base = ['up', '--controller', 'http://127.0.0.1:1', '--name', 'n1', '--state-dir', tmp, '--iface', 'wg0'];
    expectUsage(await cli([...base, '--listen-port', '70000']), '--listen-port "70000" is not a port; use a number from 1 to 65535', 'up');
    expectUsage(await cli([...base, '--probe-interval', '1ms']), '--probe-interval "1ms" is out of range; use between 10ms and 1h', 'up');
  });
  it('missing required flags', async () => {
    expectUsage(await cli(['up', '--name', 'n1']), '--controller <url> is required (or set TRELLIS_CONTROLLER)', 'up');
    expectUsage(await cli(['controller', '--listen', '127.0.0.1:0']), '--data-dir <dir> is required', 'controller');
  });
  it('unknown commands and subcommands', async () => {
    const r = await cli(['frobnicate']);
    expect(r).toEqual({ code: 2, out: '', err: 'trellis: unknown command "frobnicate"; see trellis help\n' });
    // `keys rotate` was the example here until issue 13 made it a command.
    expectUsage(await cli(['keys', 'frobnicate']), 'unknown subcommand "keys frobnicate"', 'keys');
  });
  it('unexpected positional argument', async () => {
    expectUsage(await cli(['keys', 'list', 'extra']), 'unexpected argument "extra"', 'keys list');
  });
  it('no controller and no lab', async () => {
    expectUsage(await cli(['nodes']), 'no controller given: pass --controller <url>, set TRELLIS_CONTROLLER, or start a lab', 'nodes');
  });
  it('status needs a target', async () => {
    expectUsage(await cli(['status']), 'which agent? pass --state-dir <dir>, --socket <path> or --node <name>', 'status');
  });
  it('lab demo duration is validated', async () => {
    expectUsage(await cli(['lab', 'demo', '--duration', 'soon']), '--duration "soon" is not a duration; use a number with a unit, e.g. 30s, 5m, 1h, 250ms', 'lab demo');
  });
});

describe('help and version', () => {
  it('every command has --help, exit 0', async () => {
    for (const argv of [['controller'], ['keys', 'create'], ['keys', 'list'], ['nodes'], ['nodes', 'revoke'], ['up'], ['down'], ['status'], ['lab', 'up'], ['lab', 'down'], ['lab', 'status'], ['lab', 'add'], ['lab', 'exec'], ['lab', 'demo']]) {
      const r = await cli([...argv, '--help']);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`^Usage: trellis ${argv.join(' ')}`));
    }
  });
  it('trellis help lists commands; --version prints the version', async () => {
    const h = await cli(['help']);
    expect(h.code).toBe(0);
    expect(h.out).toContain('lab demo');
    const v = await cli(['--version']);
    expect(v).toEqual({ code: 0, out: expect.stringMatching(/^trellis \d+\.\d+\.\d+\n$/), err: '' });
  });
});

/** A loopback HTTP server standing in for the controller's admin API boundary. */
function fakeController(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => handler(req, body, res));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const addr = server.address() as { port: number };
    resolve({ url: `http://127.0.0.1:${addr.port}`, server });
  }));
}

describe('admin commands over HTTP', () => {
  it('keys create sends the validated request and prints the key', async () => {
    const seen: Array<{ method?: string; url?: string; auth?: string; body: string }> = [];
    const { url, server } = await fakeController((req, body, res) => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body });
      res.setHeader('content-type', 'application/json');
      const now = Date.now();
      res.end(JSON.stringify({ id: 'k1', tags: ['web'], user: null, reusable: true, uses: 0, createdAt: now, expiresAt: now + 1_800_000, revoked: false, key: 'tskey-secret' }));
    });
    try {
      const tokenFile = join(tmp, 'admin.token');
      writeFileSync(tokenFile, 'tok123\n');
      const r = await cli(['keys', 'create', '--controller', url, '--admin-token-file', tokenFile, '--tags', 'web', '--reusable', '--ttl', '30m']);
      expect(r.code).toBe(0);
      expect(r.out).toBe('tskey-secret\n');
      expect(r.err).toMatch(/^key k1: reusable, expires in (29m 59s|30m), tags web; it is shown only now\n$/);
      expect(seen).toEqual([{ method: 'POST', url: '/v1/admin/keys', auth: 'Bearer tok123', body: JSON.stringify({ reusable: true, tags: ['web'], ttlSeconds: 1800 }) }]);

      const j = await cli(['keys', 'create', '--json'], { ...env(), TRELLIS_CONTROLLER: url, TRELLIS_ADMIN_TOKEN: 'tok123' });
      expect(j.code).toBe(0);
      expect(JSON.parse(j.out)).toMatchObject({ id: 'k1', key: 'tskey-secret' });
    } finally {
      server.close();
    }
  });

  it('an error body becomes one line with its code, exit 1', async () => {
    const { url, server } = await fakeController((_req, _body, res) => {
      res.statusCode = 401;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ error: { code: 'TRELLIS_ERR_ADMIN_UNAUTHORIZED', message: 'admin token missing or wrong' } }));
    });
    try {
      const r = await cli(['nodes'], { ...env(), TRELLIS_CONTROLLER: url, TRELLIS_ADMIN_TOKEN: 'wrong' });
      expect(r).toEqual({ code: 1, out: '', err: 'trellis: admin token missing or wrong (TRELLIS_ERR_ADMIN_UNAUTHORIZED)\n' });
    } finally {
      server.close();
    }
  });

  it('an unreachable controller is a runtime failure, exit 1', async () => {
    const { url, server } = await fakeController(() => undefined);
    await new Promise<void>((r) => server.close(() => r()));
    const r = await cli(['keys', 'list', '--controller', url], { ...env(), TRELLIS_ADMIN_TOKEN: 't' });
    expect(r.code).toBe(1);
    expect(r.err).toBe(`trellis: controller at ${url} is unreachable (ECONNREFUSED) (TRELLIS_ERR_CONTROLLER_UNREACHABLE)\n`);
  });

  it('nodes prints a table', async () => {
    const now = Date.now();
    const { url, server } = await fakeController((_req, _body, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify([
        { id: 'a', name: 'n2', hostname: 'h', user: null, tags: ['web'], wgKey: 'k', identityKey: 'i', addresses: { ipv4: '100.64.0.2', ipv6: 'fd7a::2' }, endpoints: ['198.18.0.12:51820'], online: false, lastSeen: now - 65_000, createdAt: now, expiresAt: null, revoked: false, revokedAt: null, facts: null, posture: null },
        { id: 'b', name: 'n1', hostname: 'h', user: null, tags: [], wgKey: 'k', identityKey: 'i', addresses: { ipv4: '100.64.0.1', ipv6: 'fd7a::1' }, endpoints: [], online: true, lastSeen: now - 2_000, createdAt: now, expiresAt: null, revoked: false, revokedAt: null, facts: null, posture: null },
      ]));
    });
    try {
      const r = await cli(['nodes'], { ...env(), TRELLIS_CONTROLLER: url, TRELLIS_ADMIN_TOKEN: 't' });
      expect(r.code).toBe(0);
      const lines = r.out.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^NAME\s+ADDRESSES\s+ONLINE\s+LAST SEEN\s+ENDPOINTS\s+RELAY\s+TAGS$/);
      expect(lines[1]).toMatch(/^n1\s+100\.64\.0\.1, fd7a::1\s+yes\s+2s ago\s+-\s+-\s+-$/);
      expect(lines[2]).toMatch(/^n2\s+100\.64\.0\.2, fd7a::2\s+no\s+1m 5s ago\s+198\.18\.0\.12:51820\s+-\s+web$/);
    } finally {
      server.close();
    }
  });
});

describe('agent commands over the unix socket', () => {
  it('status renders the agent status; --json prints it as is', async () => {
    const socket = join(tmp, 'agent.sock');
    const server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(req.url === '/v1/status' ? JSON.stringify(FIXED_STATUS) : '{}');
    });
    await new Promise<void>((r) => server.listen(socket, () => r()));
    try {
      const r = await cli(['status', '--socket', socket]);
      expect(r.code).toBe(0);
      expect(r.out).toContain('node        n1 (node-1)\n');
      expect(r.out).toMatch(/\nn2\s+100\.64\.0\.2\s+198\.18\.0\.12:51820\s+.+ ago\s+1\.50 KiB \/ 2\.00 MiB\s+0\.412 ms\s+5\.0%\s+0\.037 ms\n/);
      const j = await cli(['status', '--socket', socket, '--json']);
      expect(JSON.parse(j.out)).toEqual(FIXED_STATUS);
    } finally {
      server.close();
    }
  });

  it('a missing socket is a runtime failure naming the socket', async () => {
    const r = await cli(['down', '--state-dir', join(tmp, 'nowhere')]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `trellis: agent socket ${join(tmp, 'nowhere', 'agent.sock')} is unreachable (ENOENT); is \`trellis up\` running? (TRELLIS_ERR_AGENT_UNREACHABLE)\n`,
    );
  });
});
