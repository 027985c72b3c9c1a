/**
 * trellis-wg, Trellis's WireGuard device, on real TUN devices in two network namespaces: the
 * agent's DeviceDatagramChannel sends and receives STUN and disco datagrams on the very UDP port
 * WireGuard uses, both ways, while a WireGuard ping over the overlay keeps working; datagrams
 * leave from a chosen local address; anything else on the port stays WireGuard's business.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, unlinkSync } from 'node:fs';
import { generateWgKeyPair } from '../core/src/auth/keys';
import { run, tryRun } from '../core/src/sys/run';
import { stunBinding } from '../core/src/stun';
import { DeviceDatagramChannel, type DeviceChannelInfo, type DeviceDatagram } from '../core/src/wg/device-datagram-channel';
import { deviceStunTransport } from '../core/src/wg/device-stun-transport';
import { setLinkUp, syncAddresses, syncRoutes } from '../core/src/wg/link';
import { BUNDLED_TRELLIS_WG, controlSocketPath } from '../core/src/wg/trellis-wg';
import type { WgConfig } from '../core/src/wg/types';
import { DEFAULT_UAPI_SOCKET_DIR, UapiDevice } from '../core/src/wg/uapi-device';

jest.setTimeout(60_000);

const NS_A = 'trlt-twa';
const NS_B = 'trlt-twb';
const VETH_A = 'trlt-twva';
const VETH_B = 'trlt-twvb';
const IF_A = 'trlttwa';
const IF_B = 'trlttwb';
const A = '198.18.202.1';
const A2 = '198.18.202.11';
const B = '198.18.202.2';

const keyA = generateWgKeyPair();
const keyB = generateWgKeyPair();
const configA: WgConfig = { privateKey: keyA.privateKey, listenPort: 51820, peers: [{ publicKey: keyB.publicKey, endpoint: `${B}:51820`, allowedIps: ['100.101.0.2/32'] }] };
const configB: WgConfig = { privateKey: keyB.privateKey, listenPort: 51820, peers: [{ publicKey: keyA.publicKey, endpoint: `${A}:51820`, allowedIps: ['100.101.0.1/32'] }] };

const devA = new UapiDevice({ name: IF_A, netns: NS_A, wireguardGo: BUNDLED_TRELLIS_WG });
const devB = new UapiDevice({ name: IF_B, netns: NS_B, wireguardGo: BUNDLED_TRELLIS_WG });
let chA: DeviceDatagramChannel;
let chB: DeviceDatagramChannel;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A STUN binding request (RFC 8489 header, no attributes) whose transaction id carries n. */
function stun(n: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt16BE(0x0001, 0);
  b.writeUInt32BE(0x2112a442, 4);
  b.writeUInt32BE(n, 16);
  return b;
}

/** A disco-framed datagram carrying n (the device only looks at the magic). */
function disco(n: number): Buffer {
  const b = Buffer.concat([Buffer.from('TRLD\x01\x01'), Buffer.alloc(4), randomBytes(100)]);
  b.writeUInt32BE(n, 6);
  return b;
}

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

/** sendAll sends every payload through a channel, at most `window` waiting at once. */
async function sendAll(ch: DeviceDatagramChannel, to: string, payloads: Buffer[], window = 32, from?: string): Promise<void> {
  for (let i = 0; i < payloads.length; i += window) {
    await Promise.all(payloads.slice(i, i + window).map((p) => ch.send(to, p, from)));
  }
}

function collect(ch: DeviceDatagramChannel): DeviceDatagram[] {
  const got: DeviceDatagram[] = [];
  ch.on('datagram', (d) => got.push(d));
  return got;
}

async function until(what: string, cond: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

beforeAll(async () => {
  if (!existsSync(BUNDLED_TRELLIS_WG)) throw new Error(`${BUNDLED_TRELLIS_WG} is not installed; scripts/setup.sh builds it (see its warnings)`);
  await cleanup();
  await run('ip', ['netns', 'add', NS_A]);
  await run('ip', ['netns', 'add', NS_B]);
  await run('ip', ['link', 'add', VETH_A, 'netns', NS_A, 'type', 'veth', 'peer', 'name', VETH_B, 'netns', NS_B]);
  for (const [ns, veth, addrs] of [
    [NS_A, VETH_A, [`${A}/24`, `${A2}/24`]],
    [NS_B, VETH_B, [`${B}/24`]],
  ] as const) {
    for (const a of addrs) await run('ip', ['-n', ns, 'addr', 'add', a, 'dev', veth]);
    await run('ip', ['-n', ns, 'link', 'set', veth, 'up']);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  await devA.up();
  await devB.up();
  await devA.reconfigure(configA, null);
  await devB.reconfigure(configB, null);
  for (const [dev, ns, self, peer] of [
    [devA, NS_A, 1, 2],
    [devB, NS_B, 2, 1],
  ] as const) {
    await setLinkUp(dev.name, 1420, { netns: ns });
    await syncAddresses(dev.name, [`100.101.0.${self}/32`], { netns: ns });
    await syncRoutes(dev.name, [`100.101.0.${peer}/32`], { netns: ns });
  }
  chA = await DeviceDatagramChannel.connect(devA.controlSocketPath);
  chB = await DeviceDatagramChannel.connect(devB.controlSocketPath);
});

afterAll(async () => {
  chA?.close();
  chB?.close();
  await cleanup();
});

test('the device is trellis-wg on the pinned wireguard-go, with its control socket (0600) beside the UAPI socket', async () => {
  const info = await devA.describe();
  expect(info).toMatchObject({ driver: 'trellis-wg', binary: BUNDLED_TRELLIS_WG, disco: { available: true, socket: controlSocketPath(IF_A), reason: null } });
  expect(info.commit).toMatch(/^[0-9a-f]{12}$/);
  expect(chA.info).toMatchObject({ protocol: 1, implementation: 'trellis-wg', iface: IF_A, listenPort: 51820, wireguardModule: info.moduleVersion });
  const mode = (await run('stat', ['-c', '%a %F', controlSocketPath(IF_A)])).trim();
  expect(mode).toBe('600 socket');
});

test('STUN and disco cross the WireGuard port both ways while a WireGuard ping keeps working', async () => {
  const N = 1000;
  const atA = collect(chA);
  const atB = collect(chB);
  const before = (await devA.stats())[0];
  // 3 s of pings at 100 per second over the overlay, while the datagrams flow on the same port.
  const ping = run('ip', ['netns', 'exec', NS_A, 'ping', '-q', '-c', '300', '-i', '0.01', '-W', '1', '100.101.0.2'], { timeoutMs: 30_000 });
  await sleep(300);
  await Promise.all([
    sendAll(
      chA,
      `${B}:51820`,
      Array.from({ length: N }, (_, i) => disco(i)),
    ),
    sendAll(
      chB,
      `${A}:51820`,
      Array.from({ length: N }, (_, i) => stun(i)),
    ),
  ]);
  await until(`${N} datagrams on each side (A has ${atA.length}, B ${atB.length})`, () => atA.length >= N && atB.length >= N);
  const pingOut = await ping;
  expect(pingOut).toMatch(/300 packets transmitted, 300 received, 0% packet loss/);

  // Every datagram arrived once, intact, from the peer's WireGuard port.
  expect(atB.every((d) => d.kind === 'disco' && d.from === `${A}:51820`)).toBe(true);
  expect(atA.every((d) => d.kind === 'stun' && d.from === `${B}:51820`)).toBe(true);
  expect(new Set(atB.map((d) => d.payload.readUInt32BE(6))).size).toBe(N);
  expect(new Set(atA.map((d) => d.payload.readUInt32BE(16))).size).toBe(N);
  expect(atA[0].payload).toEqual(stun(atA[0].payload.readUInt32BE(16)));
  // The local address, when the kernel reported it, is the one they were sent to.
  for (const d of atB) expect([null, B]).toContain(d.local);

  // The devices' own counters say the same, and WireGuard carried the pings meanwhile.
  const [infoA, infoB] = await Promise.all([chA.requestInfo(), chB.requestInfo()]);
  expect(infoB.counters).toMatchObject({ disco: N, delivered: N, noClient: 0, queueFull: 0, slowClient: 0 });
  expect(infoA.counters).toMatchObject({ stun: N, delivered: N, sent: N, sendErrors: 0 });
  const after = (await devA.stats())[0];
  expect(after.rxBytes - before.rxBytes).toBeGreaterThanOrEqual(300 * 84);
  expect(after.lastHandshake).not.toBeNull();
});

test('a datagram leaves from the local address asked for; one the host does not have is an error', async () => {
  const atB = collect(chB);
  await chA.send(`${B}:51820`, disco(7), A2);
  await chA.send(`${B}:51820`, disco(8));
  await until('two datagrams at B', () => atB.length >= 2);
  expect(atB.map((d) => d.from)).toEqual([`${A2}:51820`, `${A}:51820`]);
  await expect(chA.send(`${B}:51820`, disco(9), '198.18.202.99')).rejects.toThrow(/send to 198\.18\.202\.2:51820: .*(network is unreachable|cannot assign requested address|invalid argument)/i);
});

test('only STUN and disco may be sent this way, and other datagrams on the port stay with WireGuard', async () => {
  const wgLike = Buffer.alloc(32);
  wgLike[0] = 4;
  await expect(chA.send(`${B}:51820`, wgLike)).rejects.toThrow(/neither STUN .* nor Trellis disco/);
  const atB = collect(chB);
  const before = (await chB.requestInfo()).counters;
  await run('ip', ['netns', 'exec', NS_A, 'socat', '-u', 'STDIN', `UDP4-SENDTO:${B}:51820,sourceport=40000`], { input: 'hello, not for the agent' });
  await expect(run('ip', ['netns', 'exec', NS_A, 'ping', '-c', '3', '-i', '0.2', '-W', '1', '100.101.0.2'])).resolves.toMatch(/3 received/);
  expect(atB).toEqual([]);
  const afterCounters = (await chB.requestInfo()).counters;
  expect(afterCounters.stun + afterCounters.disco).toBe(before.stun + before.disco);
});

/**
 * startStunService runs the controller's STUN binding service (core/dist) in B's namespace on
 * B:3478 and resolves once it listens; the test stops it.
 */
async function startStunService(): Promise<ChildProcess> {
  const dist = require.resolve('../core/dist/controller/stun-service.js');
  const script = `
    const { StunService } = require(${JSON.stringify(dist)});
    const log = { info() {}, warn() {}, debug() {}, error() {} };
    StunService.start({ listen: [{ host: ${JSON.stringify(B)}, port: 3478 }], software: 'trellis e2e', log }).then(() => console.log('listening'));
  `;
  const child = spawn('ip', ['netns', 'exec', NS_B, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => b.toString().includes('listening') && resolve());
    child.once('exit', (code) => reject(new Error(`the STUN service exited (${code})`)));
  });
  return child;
}

test("the agent's STUN binding goes out on the WireGuard socket: the server sees its port, from each local address asked for", async () => {
  const stun = await startStunService();
  try {
    const server = { family: 'IPv4' as const, address: B, port: 3478 };
    const viaDevice = await stunBinding(deviceStunTransport(chA), server, { timeoutMs: 3000 });
    expect(viaDevice.mapped).toEqual({ family: 'IPv4', address: A, port: chA.info.listenPort });
    expect(viaDevice.software).toBe('trellis e2e');
    const viaSecond = await stunBinding(deviceStunTransport(chA, { from: A2 }), server, { timeoutMs: 3000 });
    expect(viaSecond.mapped).toEqual({ family: 'IPv4', address: A2, port: 51820 });
  } finally {
    stun.kill('SIGTERM');
  }
  await expect(run('ip', ['netns', 'exec', NS_A, 'ping', '-c', '2', '-i', '0.2', '-W', '1', '100.101.0.2'])).resolves.toMatch(/2 received/);
});

test('a listen port change is announced, and datagrams follow it', async () => {
  const infos: DeviceChannelInfo[] = [];
  chA.on('info', (i) => infos.push(i));
  await devA.reconfigure({ ...configA, listenPort: 51830 }, configA);
  await until('the new port in an info', () => infos.some((i) => i.listenPort === 51830));
  expect(chA.info.listenPort).toBe(51830);
  const atA = collect(chA);
  await chB.send(`${A}:51830`, stun(42));
  await until('STUN on the new port', () => atA.length >= 1);
  expect(atA[0].from).toBe(`${B}:51820`);
  // WireGuard roams to the new port as usual: A's next packet tells B.
  await expect(run('ip', ['netns', 'exec', NS_A, 'ping', '-c', '3', '-i', '0.2', '-W', '1', '100.101.0.2'])).resolves.toMatch(/3 received/);
});

test('the channel closes when the device goes down, and the control socket is gone', async () => {
  const closed = new Promise<Error | null>((r) => chA.once('close', r));
  await devA.down();
  expect(await closed).toBeNull();
  expect(existsSync(controlSocketPath(IF_A))).toBe(false);
  await expect(chA.send(`${B}:51820`, disco(1))).rejects.toThrow(/closed/);
});
