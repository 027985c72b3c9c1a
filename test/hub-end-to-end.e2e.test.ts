/**
 * Hubs that keep end-to-end encryption (docs/hub-end-to-end.md), on real network namespaces: hub
 * H links spokes A and B (which cannot reach each other on the underlay) and forwards their
 * overlay traffic hop by hop, and also runs the relay forwarder. Each spoke configures only H at
 * rest; the spokes' OnDemandPeers, on trellis-wg's watch/demand reports, add each other through
 * H's relay when they talk, the tunnel comes up end to end (H's IP forwarding can then be off
 * and traffic still flows: H only forwards ciphertext), and when the pair goes idle the peers are
 * removed and traffic goes through H again. The controller's part (maps carrying onDemand) is
 * played by the test: each spoke gets the map a spoke would. TRELLIS_WG_BINARY picks a build
 * other than the installed one (a branch's).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, unlinkSync } from 'node:fs';
import pino from 'pino';
import { OnDemandPeers } from '../core/src/agent/on-demand-peers';
import { generateWgKeyPair } from '../core/src/auth/keys';
import { DiscoType, discoPairKey, sealDisco } from '../core/src/disco';
import type { NetworkMap, PeerNode } from '../core/src/netmap/types';
import { run, tryRun } from '../core/src/sys/run';
import { DeviceDatagramChannel } from '../core/src/wg/device-datagram-channel';
import { setLinkUp, syncAddresses, syncRoutes } from '../core/src/wg/link';
import { RelayProcess } from '../core/src/wg/relay-process';
import { BUNDLED_TRELLIS_WG, controlSocketPath, nodeRelayControlSocketPath } from '../core/src/wg/trellis-wg';
import type { WgConfig } from '../core/src/wg/types';
import { DEFAULT_UAPI_SOCKET_DIR, UapiDevice } from '../core/src/wg/uapi-device';

jest.setTimeout(120_000);

const BINARY = process.env.TRELLIS_WG_BINARY ?? BUNDLED_TRELLIS_WG;
const log = pino({ level: process.env.TRELLIS_E2E_LOG ?? 'silent' });
const NS = { a: 'trlt-hea', b: 'trlt-heb', h: 'trlt-heh' };
const IF = { a: 'trlthea', b: 'trltheb', h: 'trlttheh' };
const NET = { a: '198.18.221', b: '198.18.222' };
const addr = { a: `${NET.a}.2`, b: `${NET.b}.2` };
const hubAt = { a: `${NET.a}.1`, b: `${NET.b}.1` };
const RELAY_PORT = 3479;
const OVERLAY = '100.103.0.0/24';
const overlay = { a: '100.103.0.1', b: '100.103.0.2', h: '100.103.0.10' };
const RELAY_CTL = nodeRelayControlSocketPath(IF.h);
const IDLE_MS = 3_000;

type Spoke = 'a' | 'b';
const key = { a: generateWgKeyPair(), b: generateWgKeyPair(), h: generateWgKeyPair() };
const devs = {
  a: new UapiDevice({ name: IF.a, netns: NS.a, wireguardGo: BINARY }),
  b: new UapiDevice({ name: IF.b, netns: NS.b, wireguardGo: BINARY }),
  h: new UapiDevice({ name: IF.h, netns: NS.h, wireguardGo: BINARY }),
};
const ch: Partial<Record<Spoke, DeviceDatagramChannel>> = {};
const od: Partial<Record<Spoke, OnDemandPeers>> = {};
const written: Partial<Record<Spoke, WgConfig>> = {};
let relay: RelayProcess | null = null;
const timers: NodeJS.Timeout[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The hub's config: both spokes, their overlay address each. */
const hubConfig: WgConfig = {
  privateKey: key.h.privateKey,
  listenPort: 51820,
  peers: (['a', 'b'] as const).map((s) => ({ publicKey: key[s].publicKey, endpoint: `${addr[s]}:51820`, allowedIps: [`${overlay[s]}/32`] })).sort((x, y) => (x.publicKey < y.publicKey ? -1 : 1)),
};

/** A spoke's map as the controller would send it: the hub (with its relay) as the one peer, the other spoke on demand. */
function spokeMap(s: Spoke): NetworkMap {
  const other: Spoke = s === 'a' ? 'b' : 'a';
  const node = (id: string, n: 'a' | 'b' | 'h', endpoint: string): PeerNode => ({
    id, name: `node-${id}`, wgKey: key[n].publicKey, addresses: { ipv4: overlay[n], ipv6: `fd7a:7e11:5103::${id.charCodeAt(0)}` }, endpoints: [endpoint],
    allowedIps: [`${overlay[n]}/32`], tags: [], user: null, online: true, lastSeen: null,
  });
  return {
    version: 1, epoch: 'e2e', self: { ...node(s, s, `${addr[s]}:51820`), expiresAt: null },
    peers: [{ ...node('h', 'h', `${hubAt[s]}:51820`), hub: true, relay: { port: RELAY_PORT } }],
    packetFilter: null, routes: [{ prefix: OVERLAY, via: 'h', kind: 'transit' }], extensions: {},
    overlay: { ipv4Cidr: OVERLAY, ipv6Prefix: 'fd7a:7e11:5103::/48' },
    onDemand: [{ id: other, name: `node-${other}`, wgKey: key[other].publicKey, allowedIps: [`${overlay[other]}/32`], via: ['h'] }],
  } as NetworkMap;
}

/** A spoke's base config (toWgConfig of its map): the hub, carrying the whole overlay. */
function spokeBase(s: Spoke): WgConfig {
  return { privateKey: key[s].privateKey, listenPort: 51820, peers: [{ publicKey: key.h.publicKey, endpoint: `${hubAt[s]}:51820`, allowedIps: [OVERLAY], persistentKeepalive: 25 }] };
}

/** write puts the spoke's base config and its on-demand peers on its device, as the agent's reconfigure loop does. */
let writing: Promise<void> = Promise.resolve();
const writeErrors: string[] = [];
function write(s: Spoke): Promise<void> {
  const job = writing.then(async () => {
    const extra = od[s]!.peers();
    const next: WgConfig = { ...spokeBase(s), peers: [...spokeBase(s).peers, ...extra].sort((x, y) => (x.publicKey < y.publicKey ? -1 : 1)) };
    await devs[s].reconfigure(next, written[s] ?? null);
    written[s] = next;
  });
  writing = job.catch((err: Error) => void writeErrors.push(`${s}: ${err.message}`));
  return job;
}

/** pingRelay registers spoke s with the hub's relay (an authenticated disco ping from its WireGuard socket), as the path prober does. */
async function pingRelay(s: Spoke): Promise<void> {
  const datagram = sealDisco(
    { type: DiscoType.PING, sender: key[s].publicKey, receiver: key.h.publicKey, txId: randomBytes(12), timestampUs: BigInt(Date.now()) * 1000n, body: Buffer.alloc(0) },
    discoPairKey(key[s].privateKey, key.h.publicKey),
  );
  await ch[s]!.send(`${hubAt[s]}:${RELAY_PORT}`, datagram).catch(() => undefined);
}

function overlayPing(from: Spoke, to: Spoke, count: number): Promise<string> {
  const args = ['netns', 'exec', NS[from], 'ping', '-n', '-c', String(count), '-i', '0.05', '-W', '1', overlay[to]];
  return new Promise((resolve) => execFile('ip', args, { timeout: 30_000 }, (_err, stdout) => resolve(String(stdout))));
}

const peerKeys = async (s: Spoke) => (await devs[s].stats()).map((p) => p.publicKey).sort();
const hubForwarding = (on: boolean) => run('ip', ['netns', 'exec', NS.h, 'sysctl', '-q', '-w', `net.ipv4.ip_forward=${on ? 1 : 0}`]);

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function cleanup(): Promise<void> {
  for (const t of timers.splice(0)) clearInterval(t);
  for (const c of Object.values(ch)) c?.close();
  await relay?.stop().catch(() => undefined);
  await Promise.all(Object.values(devs).map((d) => d.down().catch(() => undefined)));
  for (const ns of Object.values(NS)) {
    for (const pid of ((await tryRun('ip', ['netns', 'pids', ns])) ?? '').split('\n').map(Number).filter((p) => p > 0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await tryRun('ip', ['netns', 'del', ns]);
  }
  for (const name of Object.values(IF)) {
    for (const f of [`${DEFAULT_UAPI_SOCKET_DIR}/${name}.sock`, controlSocketPath(name)]) if (existsSync(f)) unlinkSync(f);
  }
  if (existsSync(RELAY_CTL)) unlinkSync(RELAY_CTL);
}

beforeAll(async () => {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is not installed; scripts/setup.sh builds it (see its warnings)`);
  await cleanup();
  for (const ns of Object.values(NS)) {
    await run('ip', ['netns', 'add', ns]);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  for (const s of ['a', 'b'] as const) {
    const [vh, vs] = [`trlt-hev${s}`, `trlt-hew${s}`];
    await run('ip', ['link', 'add', vh, 'netns', NS.h, 'type', 'veth', 'peer', 'name', vs, 'netns', NS[s]]);
    await run('ip', ['-n', NS.h, 'addr', 'add', `${hubAt[s]}/24`, 'dev', vh]);
    await run('ip', ['-n', NS[s], 'addr', 'add', `${addr[s]}/24`, 'dev', vs]);
    await run('ip', ['-n', NS.h, 'link', 'set', vh, 'up']);
    await run('ip', ['-n', NS[s], 'link', 'set', vs, 'up']);
  }
  // The hub: its device with both spokes, forwarding between them (as HubForwarding sets it), and its relay.
  await devs.h.up();
  await devs.h.reconfigure(hubConfig, null);
  await setLinkUp(IF.h, 1420, { netns: NS.h });
  await syncAddresses(IF.h, [`${overlay.h}/32`], { netns: NS.h });
  await syncRoutes(IF.h, [`${overlay.a}/32`, `${overlay.b}/32`], { netns: NS.h });
  await hubForwarding(true);
  await run('ip', ['netns', 'exec', NS.h, 'sysctl', '-q', '-w', 'net.ipv4.conf.all.send_redirects=0', `net.ipv4.conf.${IF.h}.send_redirects=0`]);
  relay = await RelayProcess.start({ port: RELAY_PORT, controlSocket: RELAY_CTL, netns: NS.h, binary: BINARY });
  await relay.control.configure({ privateKey: key.h.privateKey, mesh: [key.a.publicKey, key.b.publicKey] });
  // The spokes: the hub as their one peer, and their OnDemandPeers on the device channel.
  for (const s of ['a', 'b'] as const) {
    await devs[s].up();
    ch[s] = await DeviceDatagramChannel.connect(devs[s].controlSocketPath);
    od[s] = new OnDemandPeers({ device: ch[s]!, log, changed: () => void write(s), idleMs: IDLE_MS, handshakeTimeoutMs: 20_000 });
    ch[s]!.on('demand', (d) => od[s]!.onDemand(d));
    await write(s);
    await setLinkUp(IF[s], 1420, { netns: NS[s] });
    await syncAddresses(IF[s], [`${overlay[s]}/32`], { netns: NS[s] });
    await syncRoutes(IF[s], [OVERLAY], { netns: NS[s] });
    await od[s]!.setMap(spokeMap(s));
    await pingRelay(s);
    timers.push(setInterval(() => void pingRelay(s), 2_000));
    // As AgentPaths does: every 100 ms while a peer is staged (here always; idleness is by time anyway).
    timers.push(setInterval(() => void devs[s].stats().then((st) => od[s]!.tick(st)).catch(() => undefined), 100));
  }
});

afterAll(async () => {
  await cleanup();
});

test('at rest each spoke configures only the hub, and the spokes cannot reach each other on the underlay', async () => {
  expect(await peerKeys('a')).toEqual([key.h.publicKey]);
  expect(await peerKeys('b')).toEqual([key.h.publicKey]);
  expect(await tryRun('ip', ['netns', 'exec', NS.a, 'ping', '-c', '1', '-W', '1', addr.b])).toBeNull();
});

test('talking adds the pair on both spokes through the hub relay; the tunnel is end to end (the hub no longer forwards IP); idle removes it', async () => {
  // The first packets go through the hub while the pair comes up. Each end opens when it sees the
  // handshake (polled every 100 ms): until both did, a few packets may be dropped.
  const first = await overlayPing('a', 'b', 20);
  const received = Number(/(\d+) received/.exec(first)?.[1] ?? 0);
  expect(received).toBeGreaterThanOrEqual(17);
  // Traffic goes on meanwhile (through the hub): when the first initiation reached the other spoke
  // before it added this one, WireGuard tries again after 5 s, and real traffic keeps the peer wanted.
  await until('both spokes open on-demand peers', async () => {
    await overlayPing('a', 'b', 1);
    return od.a!.status().open === 1 && od.b!.status().open === 1;
  }).catch(async (err: Error) => {
    const info = await relay!.control.info();
    throw new Error(`${err.message}; a ${JSON.stringify(od.a!.status())}, b ${JSON.stringify(od.b!.status())}, relay ${JSON.stringify(info.counters)}`);
  });
  expect(await peerKeys('a')).toEqual([key.b.publicKey, key.h.publicKey].sort());
  expect(await peerKeys('b')).toEqual([key.a.publicKey, key.h.publicKey].sort());
  const endpointA = (await devs.a.stats()).find((p) => p.publicKey === key.b.publicKey)!;
  expect(endpointA).toMatchObject({ endpoint: `${hubAt.a}:${RELAY_PORT}`, allowedIps: [`${overlay.b}/32`] });

  // The hub stops forwarding IP: the pair still talks, through the relay, which sees only ciphertext.
  await hubForwarding(false);
  const before = (await relay!.control.info()).counters.forwardedPackets;
  const hubRxA = (await devs.h.stats()).find((p) => p.publicKey === key.a.publicKey)!.rxBytes;
  expect(await overlayPing('a', 'b', 20)).toMatch(/20 packets transmitted, 20 received/);
  expect((await relay!.control.info()).counters.forwardedPackets - before).toBeGreaterThanOrEqual(40);
  // The hub's own tunnel with A carried none of it (at most a keepalive).
  expect((await devs.h.stats()).find((p) => p.publicKey === key.a.publicKey)!.rxBytes - hubRxA).toBeLessThan(200);
  await hubForwarding(true);

  // Idle: both spokes remove the peer, and traffic goes through the hub again.
  await until('both spokes remove the idle peer', async () => (await peerKeys('a')).length === 1 && (await peerKeys('b')).length === 1, IDLE_MS + 5_000);
  expect(od.a!.status()).toMatchObject({ open: 0, staged: 0, added: 1, removedIdle: 1, handshakeFailed: 0 });
  // Through the hub again; this traffic brings the pair up once more, so the switch window applies:
  // the same second of pings and the same allowance as the first time the pair came up (5 pings
  // 50 ms apart fell inside the window: 3 of 5 in one clean-clone run).
  const again = Number(/(\d+) received/.exec(await overlayPing('a', 'b', 20))?.[1] ?? 0);
  expect(again).toBeGreaterThanOrEqual(17);
  expect(writeErrors).toEqual([]);
});
