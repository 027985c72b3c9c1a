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

/** Route check and exit flags are checked before the agent starts. */
describe('trellis up --route-check-interval and the exit flags', () => {
  it.each([
    [['--route-check-interval', '200ms'], '--route-check-interval needs --advertise-routes or --advertise-exit'],
    [['--advertise-routes', '10.20.0.0/24', '--route-check-interval', '200ms'], '--route-check-interval needs --route-check'],
    [['--advertise-routes', '10.20.0.0/24', '--route-check', '10.20.0.10', '--route-check-interval', '10ms'], '--route-check-interval "10ms" is out of range'],
    [['--advertise-routes', '10.20.0.0/24', '--route-check', '10.20.0.10', '--route-check-interval', 'soon'], '--route-check-interval "soon"'],
    [['--exit-node', 'n3', '--exit-exclude', '192.0.2.1/24'], '--exit-exclude "192.0.2.1/24" has host bits set; the network is 192.0.2.0/24'],
    [['--exit-node', 'n3', '--exit-exclude', '::/0'], '--exit-exclude "::/0" would exclude everything'],
    [['--exit-node-fallback', 'n4'], '--exit-node-fallback needs --exit-node'],
    [['--route-include', '10.20.0.1/16'], '--route-include "10.20.0.1/16" has host bits set; the network is 10.20.0.0/16'],
    [['--route-include', 'lan'], '--route-include "lan" is not a CIDR such as 10.20.0.0/16'],
    [['--route-include', '10.20.0.0/16,0.0.0.0/0'], '--route-include "0.0.0.0/0" would include every route'],
  ])('%j is refused: %s', async (flags, message) => {
    const r = await up(flags);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain(message);
  });

  it('TRELLIS_ROUTE_INCLUDE is read like the flag, and help names it', async () => {
    const r = await up([], { TRELLIS_ROUTE_INCLUDE: '10.20.0.7/16' });
    expect(r.code).toBe(2);
    expect(r.err).toContain('TRELLIS_ROUTE_INCLUDE "10.20.0.7/16" has host bits set');
    expect((await up(['--help'])).out).toContain('--route-include <cidrs>');
  });

  it('TRELLIS_ROUTE_CHECK_INTERVAL is read like the flag', async () => {
    const r = await up(['--advertise-routes', '10.20.0.0/24', '--route-check', '10.20.0.10'], { TRELLIS_ROUTE_CHECK_INTERVAL: '5ms' });
    expect(r.code).toBe(2);
    expect(r.err).toContain('TRELLIS_ROUTE_CHECK_INTERVAL "5ms" is out of range');
  });
});
