import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envVarName, parseFlagsWithEnv } from './env-flags';
import { runCli } from './run-cli';
import { captureIO } from './testing/capture-io';
import { UsageError } from './usage-error';

const OPTIONS = {
  listen: { type: 'string' },
  'data-dir': { type: 'string' },
  'require-approval': { type: 'boolean' },
  endpoint: { type: 'string', multiple: true },
  help: { type: 'boolean' },
} as const;
const ENV_FLAGS = ['listen', 'data-dir', 'require-approval', 'endpoint'];

describe('parseFlagsWithEnv', () => {
  it('names the variable after the flag', () => {
    expect(envVarName('data-dir')).toBe('TRELLIS_DATA_DIR');
    expect(envVarName('listen')).toBe('TRELLIS_LISTEN');
  });

  it('fills flags the command line left out from TRELLIS_* and says where each value came from', () => {
    const r = parseFlagsWithEnv('controller', ['--listen', '127.0.0.1:1'], OPTIONS, ENV_FLAGS, {
      TRELLIS_LISTEN: '0.0.0.0:8080',
      TRELLIS_DATA_DIR: ' /var/lib/trellis/controller ',
      TRELLIS_REQUIRE_APPROVAL: 'yes',
      TRELLIS_ENDPOINT: '198.51.100.7:51820, [2001:db8::7]:51820',
    });
    expect(r.values).toEqual({
      listen: '127.0.0.1:1',
      'data-dir': '/var/lib/trellis/controller',
      'require-approval': true,
      endpoint: ['198.51.100.7:51820', '[2001:db8::7]:51820'],
    });
    expect(r.source).toEqual({
      listen: '--listen',
      'data-dir': 'TRELLIS_DATA_DIR',
      'require-approval': 'TRELLIS_REQUIRE_APPROVAL',
      endpoint: 'TRELLIS_ENDPOINT',
    });
  });

  it('treats an empty variable as unset and reads false for a boolean', () => {
    const r = parseFlagsWithEnv('controller', [], OPTIONS, ENV_FLAGS, { TRELLIS_LISTEN: '  ', TRELLIS_REQUIRE_APPROVAL: 'off' });
    expect(r.values).toEqual({ 'require-approval': false });
  });

  it('refuses a boolean variable that is neither true nor false, naming it', () => {
    expect(() => parseFlagsWithEnv('controller', [], OPTIONS, ENV_FLAGS, { TRELLIS_REQUIRE_APPROVAL: 'maybe' })).toThrow(
      new UsageError('TRELLIS_REQUIRE_APPROVAL "maybe" is not true or false', 'controller'),
    );
  });

  it('ignores variables of flags it was not told to read', () => {
    const r = parseFlagsWithEnv('controller', [], OPTIONS, ['listen'], { TRELLIS_DATA_DIR: '/x' });
    expect(r.values['data-dir']).toBeUndefined();
  });
});

describe('trellis controller and trellis up take their settings from the environment', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'trellis-env-flags-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  async function cli(argv: string[], env: NodeJS.ProcessEnv) {
    const io = captureIO({ TRELLIS_LAB_DIR: join(tmp, 'no-lab'), ...env });
    const code = await runCli(argv, io);
    return { code, out: io.out, err: io.err };
  }

  it('a bad value from a variable is refused with the variable named', async () => {
    expect(await cli(['controller'], { TRELLIS_LISTEN: 'nowhere', TRELLIS_DATA_DIR: tmp })).toEqual({
      code: 2,
      out: '',
      err: 'trellis: TRELLIS_LISTEN "nowhere" is not host:port, e.g. 127.0.0.1:8080 or [::1]:8080; see trellis controller --help\n',
    });
    const up = { TRELLIS_CONTROLLER: 'http://127.0.0.1:1', TRELLIS_NAME: 'n1', TRELLIS_STATE_DIR: tmp, TRELLIS_IFACE: 'trl0' };
    expect((await cli(['up'], { ...up, TRELLIS_NAME: 'Bad_Name' })).err).toMatch(/^trellis: TRELLIS_NAME "Bad_Name" is not a valid node name; /);
    expect((await cli(['up'], { ...up, TRELLIS_LISTEN_PORT: '70000' })).err).toBe(
      'trellis: TRELLIS_LISTEN_PORT "70000" is not a port; use a number from 1 to 65535; see trellis up --help\n',
    );
    expect((await cli(['up'], { ...up, TRELLIS_PROBE_INTERVAL: '1ms' })).err).toBe(
      'trellis: TRELLIS_PROBE_INTERVAL "1ms" is out of range; use between 10ms and 1h; see trellis up --help\n',
    );
    expect((await cli(['up'], { ...up, TRELLIS_ENDPOINT: '198.51.100.7' })).err).toMatch(/^trellis: TRELLIS_ENDPOINT "198\.51\.100\.7" is not host:port/);
    expect((await cli(['up'], { ...up, TRELLIS_IFACE: 'an-interface-name-too-long' })).err).toMatch(/^trellis: TRELLIS_IFACE ".*" is 26 characters long/);
  });

  it('a flag on the command line wins over its variable', async () => {
    const r = await cli(['controller', '--listen', 'also-bad'], { TRELLIS_LISTEN: '127.0.0.1:0', TRELLIS_DATA_DIR: tmp });
    expect(r.err).toMatch(/^trellis: --listen "also-bad" is not host:port/);
  });

  it('--require-approval and --no-require-approval still contradict; a bad TRELLIS_REQUIRE_APPROVAL is refused', async () => {
    const both = await cli(['controller', '--require-approval', '--no-require-approval'], { TRELLIS_LISTEN: '127.0.0.1:0', TRELLIS_DATA_DIR: tmp });
    expect(both.err).toMatch(/contradict each other/);
    const bad = await cli(['controller', '--no-require-approval'], { TRELLIS_LISTEN: '127.0.0.1:0', TRELLIS_DATA_DIR: tmp, TRELLIS_REQUIRE_APPROVAL: 'maybe' });
    expect(bad.err).toBe('trellis: TRELLIS_REQUIRE_APPROVAL "maybe" is not true or false; see trellis controller --help\n');
  });

  it('help lists the variables', async () => {
    expect((await cli(['controller', '--help'], {})).out).toMatch(/\[TRELLIS_DATA_DIR\]/);
    expect((await cli(['up', '--help'], {})).out).toMatch(/\[TRELLIS_STATE_DIR\]/);
  });
});
