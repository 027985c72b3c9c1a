/**
 * trellis-wg's watch/demand (on-demand peers, docs/hub-end-to-end.md) on real TUN devices in two
 * network namespaces: traffic to and from a watched overlay address is reported to the agent's
 * channel, outbound by destination and inbound by source, at most once per address, direction and
 * interval, while every packet still passes; unwatched traffic is not reported; [] stops.
 * TRELLIS_WG_BINARY picks a trellis-wg build other than the installed one (a branch's).
 */
import { existsSync, unlinkSync } from 'node:fs';
import { generateWgKeyPair } from '../core/src/auth/keys';
import { run, tryRun } from '../core/src/sys/run';
import { DeviceDatagramChannel, type DeviceDemand } from '../core/src/wg/device-datagram-channel';
import { setLinkUp, syncAddresses, syncRoutes } from '../core/src/wg/link';
import { BUNDLED_TRELLIS_WG, controlSocketPath } from '../core/src/wg/trellis-wg';
import type { WgConfig } from '../core/src/wg/types';
import { DEFAULT_UAPI_SOCKET_DIR, UapiDevice } from '../core/src/wg/uapi-device';

jest.setTimeout(60_000);

const BINARY = process.env.TRELLIS_WG_BINARY ?? BUNDLED_TRELLIS_WG;
const NS_A = 'trlt-oda';
const NS_B = 'trlt-odb';
const VETH_A = 'trlt-odva';
const VETH_B = 'trlt-odvb';
const IF_A = 'trltoda';
const IF_B = 'trltodb';
const A = '198.18.203.1';
const B = '198.18.203.2';

const keyA = generateWgKeyPair();
const keyB = generateWgKeyPair();
const configA: WgConfig = { privateKey: keyA.privateKey, listenPort: 51820, peers: [{ publicKey: keyB.publicKey, endpoint: `${B}:51820`, allowedIps: ['100.102.0.2/32', '100.102.0.3/32'] }] };
const configB: WgConfig = { privateKey: keyB.privateKey, listenPort: 51820, peers: [{ publicKey: keyA.publicKey, endpoint: `${A}:51820`, allowedIps: ['100.102.0.1/32'] }] };

const devA = new UapiDevice({ name: IF_A, netns: NS_A, wireguardGo: BINARY });
const devB = new UapiDevice({ name: IF_B, netns: NS_B, wireguardGo: BINARY });
let chA: DeviceDatagramChannel;
let chB: DeviceDatagramChannel;

async function cleanup(): Promise<void> {
  await Promise.all([devA.down().catch(() => undefined), devB.down().catch(() => undefined)]);
  for (const ns of [NS_A, NS_B]) {
    for (const pid of ((await tryRun('ip', ['netns', 'pids', ns])) ?? '').split('\n').map(Number).filter((p) => p > 0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await tryRun('ip', ['netns', 'del', ns]);
  }
  for (const name of [IF_A, IF_B]) {
    for (const f of [`${DEFAULT_UAPI_SOCKET_DIR}/${name}.sock`, controlSocketPath(name)]) if (existsSync(f)) unlinkSync(f);
  }
}

function collect(ch: DeviceDatagramChannel): DeviceDemand[] {
  const got: DeviceDemand[] = [];
  ch.on('demand', (d) => got.push(d));
  return got;
}

const ping = (ns: string, to: string, count: number) => run('ip', ['netns', 'exec', ns, 'ping', '-q', '-c', String(count), '-i', '0.05', '-W', '1', to], { timeoutMs: 30_000 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is not installed; scripts/setup.sh builds it (see its warnings)`);
  await cleanup();
  await run('ip', ['netns', 'add', NS_A]);
  await run('ip', ['netns', 'add', NS_B]);
  await run('ip', ['link', 'add', VETH_A, 'netns', NS_A, 'type', 'veth', 'peer', 'name', VETH_B, 'netns', NS_B]);
  for (const [ns, veth, addr] of [
    [NS_A, VETH_A, A],
    [NS_B, VETH_B, B],
  ] as const) {
    await run('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', veth]);
    await run('ip', ['-n', ns, 'link', 'set', veth, 'up']);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  await devA.up();
  await devB.up();
  await devA.reconfigure(configA, null);
  await devB.reconfigure(configB, null);
  await setLinkUp(IF_A, 1420, { netns: NS_A });
  await setLinkUp(IF_B, 1420, { netns: NS_B });
  await syncAddresses(IF_A, ['100.102.0.1/32'], { netns: NS_A });
  await syncAddresses(IF_B, ['100.102.0.2/32'], { netns: NS_B });
  await syncRoutes(IF_A, ['100.102.0.0/24'], { netns: NS_A });
  await syncRoutes(IF_B, ['100.102.0.1/32'], { netns: NS_B });
  chA = await DeviceDatagramChannel.connect(devA.controlSocketPath);
  chB = await DeviceDatagramChannel.connect(devB.controlSocketPath);
});

afterAll(async () => {
  chA?.close();
  chB?.close();
  await cleanup();
});

test('traffic of a watched address is reported both ways, once per interval, and every packet passes', async () => {
  const atA = collect(chA);
  const atB = collect(chB);
  await chA.watch(['100.102.0.2', '100.102.0.3'], 10_000);
  await chB.watch(['100.102.0.1']);
  // 20 pings in ~1 s: A sends to .2 (outbound) and gets replies from .2 (inbound); B the reverse.
  await expect(ping(NS_A, '100.102.0.2', 20)).resolves.toMatch(/20 packets transmitted, 20 received/);
  await sleep(200);
  expect(atA).toEqual([
    { direction: 'outbound', address: '100.102.0.2' },
    { direction: 'inbound', address: '100.102.0.2' },
  ]);
  expect(atB).toEqual(expect.arrayContaining([
    { direction: 'inbound', address: '100.102.0.1' },
    { direction: 'outbound', address: '100.102.0.1' },
  ]));
  // B's interval is 1 s: over ~1 s of pings it may report each direction once or twice, never per packet.
  expect(atB.length).toBeLessThanOrEqual(4);
  const info = await chA.requestInfo();
  expect(info.counters).toMatchObject({ demand: 2, watched: 2 });
  expect(info.counters.demandSuppressed).toBeGreaterThanOrEqual(36);
});

test('unwatched traffic is not reported, and an empty set stops the reports', async () => {
  await chA.watch(['100.102.0.3'], 10_000);
  const atA = collect(chA);
  await expect(ping(NS_A, '100.102.0.2', 5)).resolves.toMatch(/5 received/);
  // .3 has no host behind B: the packet is reported (the peer owns .3) though nothing answers.
  await ping(NS_A, '100.102.0.3', 1).catch(() => undefined);
  await sleep(200);
  expect(atA).toEqual([{ direction: 'outbound', address: '100.102.0.3' }]);
  await chA.watch([]);
  await ping(NS_A, '100.102.0.3', 1).catch(() => undefined);
  await sleep(200);
  expect(atA).toHaveLength(1);
  expect((await chA.requestInfo()).counters.watched).toBe(0);
  await expect(chA.watch(['100.102.0.300'])).rejects.toThrow(/addresses\[0\] "100\.102\.0\.300" is not an IP address/);
});
