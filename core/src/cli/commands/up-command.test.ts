import { runCli } from '../run-cli';
import { captureIO } from '../testing/capture-io';

const BASE = ['up', '--controller', 'http://127.0.0.1:1', '--name', 'n1', '--state-dir', '/nonexistent/trellis-up-test', '--iface', 'trlwgtest'];

async function up(extra: string[], env: NodeJS.ProcessEnv = {}) {
  const io = captureIO(env);
  const code = await runCli([...BASE, ...extra], io);
  return { code, out: io.out, err: io.err };
}

/** The relay flags are checked before the agent starts: bad input exits 2 with one line and starts nothing. */
describe('trellis up --relay', () => {
  it.each([
    [['--relay-port', '4000'], '--relay-port needs --relay (or TRELLIS_RELAY=true)'],
    [['--relay', '--relay-port', '0'], '--relay-port "0" is not a port'],
    [['--relay', '--relay-port', 'x'], '--relay-port "x" is not a port'],
    [['--relay', '--relay-port', '51820'], '--relay-port 51820 is the WireGuard listen port; give the relay a port of its own'],
  ])('%j is refused: %s', async (flags, message) => {
    const r = await up(flags);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain(message);
  });

  it('TRELLIS_RELAY must be a boolean', async () => {
    const r = await up([], { TRELLIS_RELAY: 'sometimes' });
    expect(r.code).toBe(2);
    expect(r.err).toContain('TRELLIS_RELAY "sometimes" is not true or false');
  });

  it('help names the flags and the default port', async () => {
    const r = await up(['--help']);
    expect(r.out).toContain('--relay ');
    expect(r.out).toContain('--relay-port <port>');
    expect(r.out).toContain('default 51821');
  });
});
