/**
 * Runs trellis-wg's Go tests (core/native/trellis-wg) as part of the suite: the datagram filter
 * and source-address sends on a real loopback socket, the control socket, the disco format and
 * its vectors, and the relay: MAC1 destinations, index tables, expiry, the allow-list, and two
 * real wireguard-go devices talking through a relay in one process; and the fix trellis-wg's copy
 * of wireguard-go carries (third_party/wireguard-go, its own module): a handshake response and the
 * peer's own initiation handled at once leave no session that no packet reaches; and a device that
 * lost the reader of its output (its agent crashed) goes on. Loopback only; no lock.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';

jest.setTimeout(600_000);

const SRC = join(__dirname, '..', '..', 'native', 'trellis-wg');

interface GoTestEvent {
  Action: string;
  Package: string;
  Test?: string;
  Output?: string;
}

function goTest(cwd: string, packages: string): Promise<{ code: number; events: GoTestEvent[]; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'go',
      ['test', '-count=1', '-json', packages],
      { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=readonly' } },
      (err, stdout, stderr) => {
        const events = String(stdout)
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as GoTestEvent);
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, events, stderr: String(stderr) });
      },
    );
  });
}

it('trellis-wg: every Go test passes', async () => {
  const [own, wireguard] = await Promise.all([goTest(SRC, './...'), goTest(join(SRC, 'third_party', 'wireguard-go'), './device/')]);
  const events = [...own.events, ...wireguard.events];
  const code = own.code || wireguard.code;
  const stderr = [own.stderr, wireguard.stderr].filter((x) => x !== '').join('\n');
  const failed = events.filter((e) => e.Action === 'fail' && e.Test);
  const output = (t: GoTestEvent) =>
    events
      .filter((e) => e.Package === t.Package && e.Test === t.Test && e.Action === 'output')
      .map((e) => e.Output)
      .join('');
  expect({ failed: failed.map((t) => `${t.Package} ${t.Test}: ${output(t)}`), stderr: code === 0 ? '' : stderr }).toEqual({ failed: [], stderr: '' });
  expect(code).toBe(0);
  const passed = new Set(events.filter((e) => e.Action === 'pass' && e.Test).map((e) => `${e.Package.replace(/^trellis-wg\/internal\//, '')}.${e.Test}`));
  // The tests the brief names must be there and pass, not merely "no failures".
  for (const name of [
    'datagram.TestClassify',
    'filterbind.TestReceiveTakesOutSTUNAndDiscoOnly',
    'filterbind.TestSendToFromChosenSourceAddress',
    'filterbind.TestSendRetriesWithoutAStaleSource',
    'control.TestDeviceControlSocket',
    'disco.TestVectorsMatchTheCommittedFile',
    'relay.TestInitiationGoesToTheNodeWhoseKeyMadeItsMAC1',
    'relay.TestOnlyAllowedPairsAreForwarded',
    'relay.TestIndexTablesCarryAWholeSession',
    'relay.TestRoutesAndAddressesExpire',
    'relay.TestPingsAreAuthenticatedFreshAndMoveTheNode',
    'relay.TestConfigureIsAllOrNothing',
    'relay.TestRealDevicesTalkThroughTheRelay',
    'golang.zx2c4.com/wireguard/device.TestResponseAndPeersInitiationAtOnceLeaveNoUnreachableSession',
    'trellis-wg.TestOutlivesTheReaderOfItsOutput',
  ]) {
    expect(passed).toContain(name);
  }
});
