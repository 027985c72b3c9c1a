import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFrame, FrameType } from './control-frame';
import { BUNDLED_TRELLIS_WG, controlSocketPath, parseTrellisWgVersion, probeDiscoSupport, relayControlSocketPath, nodeRelayControlSocketPath } from './trellis-wg';
import { describeWireguardGo, wireguardGoVersion } from './wireguard-go';

it('names the control sockets beside the UAPI sockets', () => {
  expect(controlSocketPath('trellis0')).toBe('/var/run/wireguard/trellis0.ctl');
  expect(relayControlSocketPath(3479)).toBe('/var/run/wireguard/relay-3479.ctl');
  expect(nodeRelayControlSocketPath('trlwg3')).toBe('/var/run/wireguard/trlwg3.relay.ctl');
});

it('reads the version trellis-wg prints', () => {
  expect(parseTrellisWgVersion('trellis-wg v0.1.0 (source 0123456789ab)\ngolang.zx2c4.com/wireguard v0.0.0-x\n')).toBe('v0.1.0');
  expect(parseTrellisWgVersion('wireguard-go v0.0.20220316\n')).toBeNull();
});

describe('probeDiscoSupport', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'trellis-disco-probe-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is available when the control socket says hello', async () => {
    const hello = Buffer.concat([Buffer.from([FrameType.INFO, 0, 0, 0, 0]), Buffer.from(JSON.stringify({ protocol: 1 }))]);
    const server = createServer((s) => s.write(encodeFrame(hello)));
    await new Promise<void>((r) => server.listen(join(dir, 'trltp0.ctl'), r));
    try {
      expect(await probeDiscoSupport('trltp0', 'trellis-wg', dir)).toEqual({ available: true, socket: join(dir, 'trltp0.ctl'), reason: null });
    } finally {
      server.close();
    }
  });

  it('says why not: upstream wireguard-go, or no control socket', async () => {
    expect(await probeDiscoSupport('trltp0', 'wireguard-go', dir)).toEqual({
      available: false,
      socket: null,
      reason: 'wireguard-go has no control socket; NAT traversal, candidate probes and relays are unavailable (they need trellis-wg)',
    });
    const r = await probeDiscoSupport('trltp0', 'trellis-wg', dir);
    expect(r.available).toBe(false);
    expect(r.reason).toMatch(/trltp0\.ctl.*NAT traversal, candidate probes and relays are unavailable$/);
  });
});

// The real binary, when setup installed it.
(existsSync(BUNDLED_TRELLIS_WG) ? it : it.skip)('describes the installed trellis-wg: its version and the wireguard-go commit it links', async () => {
  expect(await wireguardGoVersion(BUNDLED_TRELLIS_WG)).toMatch(/^v\d+\.\d+\.\d+$/);
  const build = await describeWireguardGo(BUNDLED_TRELLIS_WG);
  expect(build.implementation).toBe('trellis-wg');
  expect(build.moduleVersion).toMatch(/^v0\.0\.0-\d{14}-[0-9a-f]{12}$/);
  expect(build.commit).toBe(build.moduleVersion!.slice(-12));
});
