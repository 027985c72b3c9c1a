import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installedAgentStateDir, installedController, localUrlFor, parseEnvFile } from './installed-services';
import { runCli } from './run-cli';
import { captureIO } from './testing/capture-io';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'trellis-installed-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('parseEnvFile', () => {
  it('reads KEY=VALUE lines as systemd EnvironmentFile= does in the simple cases', () => {
    expect(
      parseEnvFile('# comment\n; also a comment\n\nTRELLIS_LISTEN=0.0.0.0:8080\n  TRELLIS_DATA_DIR = "/var/lib/trellis/c"\nTRELLIS_X=\'q\'\nnot a pair\nexport TRELLIS_Y=1\n'),
    ).toEqual({ TRELLIS_LISTEN: '0.0.0.0:8080', TRELLIS_DATA_DIR: '/var/lib/trellis/c', TRELLIS_X: 'q', TRELLIS_Y: '1' });
  });
});

describe('localUrlFor', () => {
  it('turns a wildcard listen address into loopback', () => {
    expect(localUrlFor('0.0.0.0:8080')).toBe('http://127.0.0.1:8080');
    expect(localUrlFor('[::]:8080')).toBe('http://[::1]:8080');
    expect(localUrlFor('10.0.0.5:443')).toBe('http://10.0.0.5:443');
    expect(localUrlFor('nonsense')).toBeNull();
  });
});

describe('the installed services', () => {
  it('are found through TRELLIS_CONFIG_DIR, with the units’ defaults when the env file leaves a path out', () => {
    const dir = join(tmp, 'etc-a');
    mkdirSync(dir);
    expect(installedController({ TRELLIS_CONFIG_DIR: dir })).toBeNull();
    expect(installedAgentStateDir({ TRELLIS_CONFIG_DIR: dir })).toBeNull();
    writeFileSync(join(dir, 'controller.env'), 'TRELLIS_LISTEN=0.0.0.0:8080\n');
    writeFileSync(join(dir, 'agent.env'), 'TRELLIS_NAME=web1\n');
    expect(installedController({ TRELLIS_CONFIG_DIR: dir })).toEqual({
      envFile: join(dir, 'controller.env'),
      url: 'http://127.0.0.1:8080',
      dataDir: '/var/lib/trellis/controller',
    });
    expect(installedAgentStateDir({ TRELLIS_CONFIG_DIR: dir })).toBe('/var/lib/trellis/agent');
    writeFileSync(join(dir, 'agent.env'), 'TRELLIS_STATE_DIR=/srv/trellis-agent\n');
    expect(installedAgentStateDir({ TRELLIS_CONFIG_DIR: dir })).toBe('/srv/trellis-agent');
  });

  it('admin commands with no --controller, no TRELLIS_CONTROLLER and no lab use the controller service and its token', async () => {
    const seen: Array<string | undefined> = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.setHeader('content-type', 'application/json');
      res.end('[]');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const etc = join(tmp, 'etc-b');
      const data = join(tmp, 'data-b');
      mkdirSync(etc);
      mkdirSync(data);
      writeFileSync(join(etc, 'controller.env'), `TRELLIS_LISTEN=0.0.0.0:${port}\nTRELLIS_DATA_DIR=${data}\n`);
      writeFileSync(join(data, 'admin.token'), 'service-token\n');
      const io = captureIO({ TRELLIS_CONFIG_DIR: etc, TRELLIS_LAB_DIR: join(tmp, 'no-lab') });
      expect(await runCli(['nodes', '--json'], io)).toBe(0);
      expect(io.out).toBe('[]\n');
      expect(seen).toEqual(['Bearer service-token']);
    } finally {
      server.close();
    }
  });

  it('status with no flags and no agent service still asks which agent', async () => {
    const io = captureIO({ TRELLIS_CONFIG_DIR: join(tmp, 'etc-none'), TRELLIS_LAB_DIR: join(tmp, 'no-lab') });
    expect(await runCli(['status'], io)).toBe(2);
    expect(io.err).toBe('trellis: which agent? pass --state-dir <dir>, --socket <path> or --node <name>; see trellis status --help\n');
  });
});
