/**
 * The relay forwarder (`trellis-wg relay`) on real network namespaces: nodes A and B can reach the
 * relay R but not each other (R does not route between its two links), yet their WireGuard tunnel
 * comes up through R's relay port, end to end: R holds no key of the pair, learns A's and B's
 * addresses only from their authenticated disco pings (sent on their WireGuard sockets through
 * trellis-wg's control socket), forwards only the pair its allow-list names, and counts the rest.
 * A capture on R shows WireGuard transport messages and never the plaintext.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, unlinkSync } from 'node:fs';
import { generateWgKeyPair } from '../core/src/auth/keys';
import { DiscoType, decodeObservedAddress, discoPairKey, openDisco, sealDisco } from '../core/src/disco';
import { run, tryRun } from '../core/src/sys/run';
import { DeviceDatagramChannel, type DeviceDatagram } from '../core/src/wg/device-datagram-channel';
import { setLinkUp, syncAddresses, syncRoutes } from '../core/src/wg/link';
import { RelayProcess } from '../core/src/wg/relay-process';
import { BUNDLED_TRELLIS_WG, controlSocketPath, nodeRelayControlSocketPath } from '../core/src/wg/trellis-wg';
import type { WgConfig } from '../core/src/wg/types';
import { DEFAULT_UAPI_SOCKET_DIR, UapiDevice } from '../core/src/wg/uapi-device';

jest.setTimeout(90_000);

const NS = { a: 'trlt-rla', b: 'trlt-rlb', c: 'trlt-rlc', r: 'trlt-rlr' };
const IF = { a: 'trlttrla', b: 'trlttrlb', c: 'trlttrlc', r: 'trlttrlr' };
/** A, B and C each on their own link to R; R does not forward between links. */
const NET = { a: '198.18.211', b: '198.18.212', c: '198.18.213' };
const addr = { a: `${NET.a}.2`, b: `${NET.b}.2`, c: `${NET.c}.2` };
const relayAt = { a: `${NET.a}.1`, b: `${NET.b}.1`, c: `${NET.c}.1` };
const RELAY_PORT = 3479;
const overlay = { a: '100.102.0.1', b: '100.102.0.2', c: '100.102.0.3' };
const RELAY_CTL = nodeRelayControlSocketPath(IF.r);

const key = { a: generateWgKeyPair(), b: generateWgKeyPair(), c: generateWgKeyPair(), r: generateWgKeyPair() };
type Node = 'a' | 'b' | 'c';
const devs: Record<Node, UapiDevice> = {
  a: new UapiDevice({ name: IF.a, netns: NS.a, wireguardGo: BUNDLED_TRELLIS_WG }),
  b: new UapiDevice({ name: IF.b, netns: NS.b, wireguardGo: BUNDLED_TRELLIS_WG }),
  c: new UapiDevice({ name: IF.c, netns: NS.c, wireguardGo: BUNDLED_TRELLIS_WG }),
};
const ch: Partial<Record<Node, DeviceDatagramChannel>> = {};
let relay: RelayProcess | null = null;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Each node's WireGuard config: its peers' endpoints are the relay's address on the node's own link. */
function configOf(n: Node, peers: Node[]): WgConfig {
  return {
    privateKey: key[n].privateKey,
    listenPort: 51820,
    peers: peers.map((p) => ({ publicKey: key[p].publicKey, endpoint: `${relayAt[n]}:${RELAY_PORT}`, allowedIps: [`${overlay[p]}/32`], persistentKeepalive: 0 })),
  };
}

async function cleanup(): Promise<void> {
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

/** ping sends one authenticated disco ping from node n's WireGuard socket to the relay and returns the relay's pong. */
async function pingRelay(n: Node, opts: { forge?: boolean } = {}): Promise<{ observed: { ip: string; port: number } | null } | null> {
  const txId = randomBytes(12);
  const signer = opts.forge ? key.c.privateKey : key[n].privateKey; // forge: n's name, another node's key
  const datagram = sealDisco(
    { type: DiscoType.PING, sender: key[n].publicKey, receiver: key.r.publicKey, txId, timestampUs: BigInt(Date.now()) * 1000n, body: Buffer.alloc(0) },
    discoPairKey(signer, key.r.publicKey),
  );
  const pairKey = discoPairKey(key[n].privateKey, key.r.publicKey);
  const channel = ch[n]!;
  const pong = new Promise<{ observed: { ip: string; port: number } | null } | null>((resolve) => {
    const timer = setTimeout(() => {
      channel.off('datagram', onDatagram);
      resolve(null);
    }, 1_000);
    const onDatagram = (d: DeviceDatagram) => {
      if (d.kind !== 'disco') return;
      const opened = openDisco(d.payload, pairKey);
      if (!opened.ok || opened.message.type !== DiscoType.PONG || !opened.message.txId.equals(txId)) return;
      clearTimeout(timer);
      channel.off('datagram', onDatagram);
      resolve({ observed: decodeObservedAddress(opened.message.body) });
    };
    channel.on('datagram', onDatagram);
  });
  await channel.send(`${relayAt[n]}:${RELAY_PORT}`, datagram);
  return pong;
}

/** overlayPing pings over the tunnel and returns ping's output, whatever it lost. */
function overlayPing(from: Node, to: Node, count: number, extra: string[] = []): Promise<string> {
  const args = ['netns', 'exec', NS[from], 'ping', '-n', '-c', String(count), '-i', '0.05', '-W', '1', ...extra, overlay[to]];
  return new Promise((resolve) => execFile('ip', args, { timeout: 30_000 }, (_err, stdout) => resolve(String(stdout))));
}

/**
 * startCapture reads every IPv4 frame on R's link to A, both ways (AF_PACKET, in R's namespace) until stop(),
 * which resolves with the UDP payloads to or from the relay port; `ready` once it listens.
 */
function startCapture(): { ready: Promise<void>; stop: () => Promise<Buffer[]> } {
  const script = `
import socket, sys, struct
# ETH_P_ALL: a socket bound to one protocol sees only incoming frames, not the relay's own sends.
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.bind(("trlt-rlva", 0))
print("ready", flush=True)
while True:
    f = s.recv(65535)
    if f[12:14] != b"\\x08\\x00":
        continue
    ip = f[14:]
    if ip[9] != 17:
        continue
    ihl = (ip[0] & 15) * 4
    sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
    if ${RELAY_PORT} in (sport, dport):
        print(ip[ihl + 8:].hex(), flush=True)
`;
  const child = spawn('ip', ['netns', 'exec', NS.r, 'python3', '-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let signalReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (signalReady = r));
  child.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
    if (out.includes('ready')) signalReady();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    await sleep(200); // the last frames
    child.kill('SIGKILL');
    await exited;
    return out
      .split('\n')
      .filter((l) => /^[0-9a-f]+$/.test(l))
      .map((l) => Buffer.from(l, 'hex'));
  };
  return { ready, stop };
}

/** handshaken waits until node n's device has a handshake with peer p (WireGuard retries every 5 s). */
async function handshaken(n: Node, p: Node, ms = 8_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const peer = (await devs[n].stats()).find((x) => x.publicKey === key[p].publicKey);
    if (peer?.lastHandshake) return;
    if (Date.now() > deadline) throw new Error(`no handshake ${n} -> ${p} within ${ms} ms`);
    await sleep(100);
  }
}

beforeAll(async () => {
  if (!existsSync(BUNDLED_TRELLIS_WG)) throw new Error(`${BUNDLED_TRELLIS_WG} is not installed; scripts/setup.sh builds it (see its warnings)`);
  await cleanup();
  for (const ns of Object.values(NS)) {
    await run('ip', ['netns', 'add', ns]);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  await run('ip', ['netns', 'exec', NS.r, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=0']);
  for (const n of ['a', 'b', 'c'] as const) {
    const [vr, vn] = [`trlt-rlv${n}`, `trlt-rlw${n}`];
    await run('ip', ['link', 'add', vr, 'netns', NS.r, 'type', 'veth', 'peer', 'name', vn, 'netns', NS[n]]);
    await run('ip', ['-n', NS.r, 'addr', 'add', `${relayAt[n]}/24`, 'dev', vr]);
    await run('ip', ['-n', NS[n], 'addr', 'add', `${addr[n]}/24`, 'dev', vn]);
    await run('ip', ['-n', NS.r, 'link', 'set', vr, 'up']);
    await run('ip', ['-n', NS[n], 'link', 'set', vn, 'up']);
  }
  relay = await RelayProcess.start({ port: RELAY_PORT, controlSocket: RELAY_CTL, netns: NS.r });
  for (const [n, peers] of [
    ['a', ['b']],
    ['b', ['a', 'c']],
    ['c', ['b']],
  ] as const) {
    const dev = devs[n];
    await dev.up();
    await dev.reconfigure(configOf(n, [...peers]), null);
    await setLinkUp(dev.name, 1420, { netns: NS[n] });
    await syncAddresses(dev.name, [`${overlay[n]}/32`], { netns: NS[n] });
    await syncRoutes(dev.name, peers.map((p) => `${overlay[p]}/32`), { netns: NS[n] });
    ch[n] = await DeviceDatagramChannel.connect(dev.controlSocketPath);
  }
});

afterAll(async () => {
  for (const c of Object.values(ch)) c?.close();
  await cleanup();
});

test('A and B cannot reach each other directly', async () => {
  expect(await tryRun('ip', ['netns', 'exec', NS.a, 'ping', '-c', '1', '-W', '1', addr.b])).toBeNull();
});

test('an unconfigured relay forwards nothing; a refused configuration names what is wrong and changes nothing', async () => {
  expect(await pingRelay('a')).toBeNull();
  expect((await relay!.control.info()).counters.drops.noKey).toBeGreaterThan(0);
  // As a relay node's agent does: its key, and the nodes of its map as the relay's mesh.
  await relay!.control.configure({ privateKey: key.r.privateKey, mesh: [key.a.publicKey, key.b.publicKey], nodeTtlMs: 30_000 });
  await expect(relay!.control.configure({ pairs: [[key.a.publicKey, key.a.publicKey]] })).rejects.toMatchObject({ code: 'TRELLIS_ERR_RELAY_CONFIG' });
  await expect(relay!.control.configure({ mesh: [key.a.publicKey, key.r.publicKey] })).rejects.toThrow(/relay's own key.*nothing changed/);
  await expect(relay!.control.configure({ pairs: [[key.a.publicKey, 'not-a-key']] })).rejects.toThrow(/nothing changed/);
  expect(await relay!.control.info()).toMatchObject({ implementation: 'trellis-wg relay', port: RELAY_PORT, publicKey: key.r.publicKey, pairs: 1, meshNodes: 2 });
});

test('without pings the relay does not know the nodes, and the pair cannot talk', async () => {
  expect(await overlayPing('a', 'b', 3)).toMatch(/3 packets transmitted, 0 received/);
  expect((await relay!.control.info()).counters.drops.unknownSource).toBeGreaterThan(0);
});

test('a forged ping teaches the relay nothing', async () => {
  const before = (await relay!.control.info()).counters.drops.badMac;
  expect(await pingRelay('a', { forge: true })).toBeNull();
  const info = await relay!.control.info();
  expect(info.counters.drops.badMac).toBe(before + 1);
  expect(info.nodes.find((x) => x.publicKey === key.a.publicKey)?.address ?? '').toBe('');
});

test('after authenticated pings from their WireGuard sockets the pair talks through the relay, end to end encrypted', async () => {
  // The plaintext a ping carries (its -p pattern) must never cross the relay; capture from before the handshake.
  const capture = startCapture();
  await capture.ready;
  const pongA = await pingRelay('a');
  const pongB = await pingRelay('b');
  expect(pongA).toEqual({ observed: { ip: addr.a, port: 51820 } });
  expect(pongB).toEqual({ observed: { ip: addr.b, port: 51820 } });
  const info = await relay!.control.info();
  expect(info.nodes.find((x) => x.publicKey === key.a.publicKey)?.address).toBe(`${addr.a}:51820`);
  expect(info.nodes.find((x) => x.publicKey === key.b.publicKey)?.address).toBe(`${addr.b}:51820`);

  // A's WireGuard has been retrying its handshake every 5 s since the pings above went nowhere;
  // its next attempt now crosses the relay.
  void overlayPing('a', 'b', 1);
  await handshaken('a', 'b');
  const marker = 'c0ffee5eedfacade';
  const out = await overlayPing('a', 'b', 40, ['-p', marker, '-s', '200']);
  expect(out).toMatch(/40 packets transmitted, 40 received/);
  const seen = await capture.stop();
  // On R's link to A: the pings' requests in and replies out, as WireGuard transport messages.
  expect(seen.some((p) => p[0] === 1 && p.length === 148)).toBe(true); // a handshake initiation crossed
  expect(seen.some((p) => p[0] === 2 && p.length === 92)).toBe(true); // and its response
  expect(seen.filter((p) => p[0] === 4 && p.length >= 200).length).toBeGreaterThanOrEqual(80);
  const needle = Buffer.from(marker, 'hex');
  expect(seen.some((p) => p.includes(needle))).toBe(false);
  // The relay holds only its own key: it knows the pair's public keys, nothing to decrypt with.
  const after = await relay!.control.info();
  expect(after.counters.forwardedPackets).toBeGreaterThanOrEqual(80);
  expect(after.routes).toBeGreaterThanOrEqual(2);
  // B sees A's traffic arrive from the relay.
  const wgB = (await devs.b.stats()).find((p) => p.publicKey === key.a.publicKey);
  expect(wgB?.endpoint).toBe(`${relayAt.b}:${RELAY_PORT}`);
  expect(wgB?.lastHandshake).not.toBeNull();
});

test('a pair moved from a direct path onto the relay talks again within a second of a handshake request', async () => {
  // A direct link between A and B, and the pair on it.
  await run('ip', ['link', 'add', 'trlt-rlda', 'netns', NS.a, 'type', 'veth', 'peer', 'name', 'trlt-rldb', 'netns', NS.b]);
  await run('ip', ['-n', NS.a, 'addr', 'add', '198.18.214.1/24', 'dev', 'trlt-rlda']);
  await run('ip', ['-n', NS.b, 'addr', 'add', '198.18.214.2/24', 'dev', 'trlt-rldb']);
  await run('ip', ['-n', NS.a, 'link', 'set', 'trlt-rlda', 'up']);
  await run('ip', ['-n', NS.b, 'link', 'set', 'trlt-rldb', 'up']);
  const direct = (n: Node, at: string): WgConfig => ({ ...configOf(n, n === 'a' ? ['b'] : ['a', 'c']), peers: configOf(n, n === 'a' ? ['b'] : ['a', 'c']).peers.map((p) => (p.publicKey === key[n === 'a' ? 'b' : 'a'].publicKey ? { ...p, endpoint: `${at}:51820` } : p)) });
  await devs.a.reconfigure(direct('a', '198.18.214.2'), configOf('a', ['b']));
  await devs.b.reconfigure(direct('b', '198.18.214.1'), configOf('b', ['a', 'c']));
  const forwardedBefore = (await relay!.control.info()).counters.forwardedPackets;
  expect(await overlayPing('a', 'b', 5)).toMatch(/5 received/);
  // WireGuard sends one initiation per peer every 5 s at most: let the direct handshake age past that.
  await sleep(5_500);
  await pingRelay('a');
  await pingRelay('b');

  // Cut the direct link; A's agent moves the peer onto the relay and asks for a handshake.
  await run('ip', ['-n', NS.a, 'link', 'del', 'trlt-rlda']);
  await devs.a.reconfigure(configOf('a', ['b']), direct('a', '198.18.214.2'));
  const t0 = Date.now();
  await ch.a!.handshake(key.b.publicKey);
  const out = await overlayPing('a', 'b', 20);
  const received = Number(/(\d+) received/.exec(out)?.[1] ?? 0);
  // 20 pings 50 ms apart: at most the first second's may be lost while the handshake crosses.
  expect(received).toBeGreaterThanOrEqual(18);
  expect(Date.now() - t0).toBeLessThan(10_000);
  expect((await relay!.control.info()).counters.forwardedPackets).toBeGreaterThan(forwardedBefore);
  // B roamed onto the relay with A's authenticated handshake.
  const wgB = (await devs.b.stats()).find((p) => p.publicKey === key.a.publicKey);
  expect(wgB?.endpoint).toBe(`${relayAt.b}:${RELAY_PORT}`);
  await expect(ch.a!.handshake(key.r.publicKey)).rejects.toThrow(/no peer with that public key/);
});

test('a pair the allow-list does not name is dropped and counted, even with valid keys and pings', async () => {
  // C is a node B has as a peer, but the relay serves only A–B; C's ping is refused (unknown node).
  expect(await pingRelay('c')).toBeNull();
  await relay!.control.configure({ pairs: [[key.a.publicKey, key.c.publicKey]] }); // the mesh A, B stays
  // Now C is served (with A), so its ping is answered, but C–B is still not an allowed pair.
  expect(await pingRelay('c')).not.toBeNull();
  const before = (await relay!.control.info()).counters.drops.notAllowed;
  expect(await overlayPing('c', 'b', 3)).toMatch(/3 packets transmitted, 0 received/);
  expect((await relay!.control.info()).counters.drops.notAllowed).toBeGreaterThan(before);
  // A–B keeps working meanwhile.
  expect(await overlayPing('a', 'b', 5)).toMatch(/5 received/);
});

test('taking the pair out of the mesh ends its sessions at once', async () => {
  await relay!.control.configure({ mesh: [] });
  expect(await overlayPing('a', 'b', 3)).toMatch(/3 packets transmitted, 0 received/);
  expect((await relay!.control.info()).routes).toBe(0);
});

test('stopping the relay removes its control socket', async () => {
  await relay!.stop();
  relay = null;
  expect(existsSync(RELAY_CTL)).toBe(false);
});
