/**
 * A relay node on the lab (`lab up --relays n3`, i.e. `trellis up --relay`): its agent runs the
 * trellis-wg relay forwarder on the relay port, keyed with the node's WireGuard key and serving the
 * nodes of its map, shows it in `trellis status` and its metrics, answers a node's authenticated
 * disco ping sent from that node's WireGuard socket, and `lab down` leaves no relay process or
 * socket behind.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DiscoType, decodeObservedAddress, discoPairKey, openDisco, sealDisco } from '../core/src/disco';
import { defaultCliPath, Lab } from '../core/src/lab/lab';
import { run } from '../core/src/sys/run';
import { DEFAULT_RELAY_PORT } from '../core/src/agent/start-options';
import { DeviceDatagramChannel, type DeviceDatagram } from '../core/src/wg/device-datagram-channel';
import { controlSocketPath, nodeRelayControlSocketPath } from '../core/src/wg/trellis-wg';

jest.setTimeout(180_000);

const cli = defaultCliPath();
const runCli = async (...args: string[]) => (await promisify(execFile)(process.execPath, [cli, ...args])).stdout;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let lab: Lab;

beforeAll(async () => {
  lab = await Lab.up({ nodes: 3, relays: ['n3'] });
});

afterAll(async () => {
  await lab?.down();
});

/** relayPids lists `trellis-wg relay` processes (any namespace). */
function relayPids(): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
        return /(^|\/)trellis-wg$/.test(argv[0] ?? '') && argv[1] === 'relay';
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The node's WireGuard private key, from its agent's state (identity.json). */
function wgPrivateKey(node: string): string {
  const dir = lab.node(node).stateDir;
  const id = JSON.parse(readFileSync(join(dir, 'identity.json'), 'utf8')) as { wg: { privateKey: string } };
  return id.wg.privateKey;
}

test("the relay node's agent runs the forwarder for the nodes of its map, and says so", async () => {
  let relay = (await lab.status('n3')).relay;
  for (let i = 0; i < 50 && !(relay?.running && relay.pairs === 1); i++) {
    await sleep(100);
    relay = (await lab.status('n3')).relay;
  }
  expect(relay).toMatchObject({ port: DEFAULT_RELAY_PORT, running: true, pairs: 1, error: null });
  expect((await lab.status('n1')).relay).toBeNull();
  const text = await runCli('status', '--socket', lab.node('n3').socket);
  expect(text).toMatch(new RegExp(`\\nrelay {7}port ${DEFAULT_RELAY_PORT}, 1 pairs, \\d+ nodes, \\d+ sessions; forwarded \\d+ packets`));
  expect(existsSync(nodeRelayControlSocketPath(lab.node('n3').iface))).toBe(true);
  // The forwarder runs in the relay node's namespace.
  const pids = relayPids();
  expect(pids).toHaveLength(1);
  expect((await run('ip', ['netns', 'identify', String(pids[0])])).trim()).toBe(lab.node('n3').namespace);
});

test("a node's authenticated ping from its WireGuard socket is answered with the address the relay saw", async () => {
  const n1 = lab.node('n1');
  const n3 = await lab.status('n3');
  const priv = wgPrivateKey('n1');
  const pub = (await lab.status('n1')).node.wgKey;
  const key = discoPairKey(priv, n3.node.wgKey);
  const ch = await DeviceDatagramChannel.connect(controlSocketPath(n1.iface));
  try {
    const txId = randomBytes(12);
    let timer: NodeJS.Timeout | undefined;
    const pong = new Promise<DeviceDatagram | null>((resolve) => {
      timer = setTimeout(() => resolve(null), 2000);
      ch.on('datagram', (d) => d.kind === 'disco' && resolve(d));
    });
    const ping = sealDisco({ type: DiscoType.PING, sender: pub, receiver: n3.node.wgKey, txId, timestampUs: BigInt(Date.now()) * 1000n, body: Buffer.alloc(0) }, key);
    await ch.send(`${lab.node('n3').underlay}:${DEFAULT_RELAY_PORT}`, ping);
    const d = await pong;
    clearTimeout(timer);
    expect(d).not.toBeNull();
    const opened = openDisco(d!.payload, key);
    expect(opened.ok && opened.message.type).toBe(DiscoType.PONG);
    expect(opened.ok && decodeObservedAddress(opened.message.body)).toEqual({ ip: n1.underlay, port: (await lab.status('n1')).node.listenPort });
  } finally {
    ch.close();
  }
  const relay = (await lab.status('n3')).relay!;
  expect(relay.nodes).toBe(1);
});

test('lab down leaves no relay process or socket', async () => {
  const iface = lab.node('n3').iface;
  await lab.down();
  expect(relayPids()).toEqual([]);
  expect(existsSync(nodeRelayControlSocketPath(iface))).toBe(false);
});
