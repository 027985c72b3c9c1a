/**
 * A relay node on the lab (`lab up --relays n3`, i.e. `trellis up --relay`): its agent runs the
 * trellis-wg relay forwarder on the relay port, keyed with the node's WireGuard key and serving the
 * nodes of its map, shows it in `trellis status` and its metrics, answers a node's authenticated
 * disco ping sent from that node's WireGuard socket, and `lab down` leaves no relay process or
 * socket behind. Then, on a lab with an access policy (test/fixtures/relay-pairs): the relay serves
 * only the pairs the policy allows (both ends peers, both admitted by the relay's packet filter on
 * its relay port), nodes offer it as a candidate only for those pairs, a refused pair's datagram is
 * dropped and counted, and a policy change moves the forwarder's allow-list.
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
import { resolve } from 'node:path';
import { pushPolicy } from './support/policy';
import { waitFor } from './support/wait';

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
      // The agent's own disco (its peers' probes, the relay's answers to its pings) arrives on the same socket: wait for the answer to this ping.
      ch.on('datagram', (d) => {
        if (d.kind !== 'disco') return;
        const o = openDisco(d.payload, key);
        if (o.ok && o.message.txId.equals(txId)) resolve(d);
      });
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

describe('the relay serves the pairs the access policy and its own packet filter allow', () => {
  let plab: Lab | null = null;
  const FIXTURES = resolve(__dirname, 'fixtures');

  beforeAll(async () => {
    plab = await Lab.up({ nodes: 4, relays: ['n3'], configFile: resolve(FIXTURES, 'posture-lab.yaml'), readyTimeoutMs: 90_000 });
    await pushPolicy(plab, resolve(FIXTURES, 'relay-pairs'));
  }, 150_000);

  afterAll(async () => {
    await plab?.down();
  }, 60_000);

  /** The relayed candidates node offers for peer (relay names), or null when peer is not its peer. */
  const relayCandidates = async (node: string, peer: string): Promise<string[] | null> => {
    const p = (await plab!.status(node)).paths?.peers.find((x) => x.peer === peer);
    return p ? p.candidates.filter((c) => c.kind === 'relay').map((c) => c.relay ?? '?') : null;
  };

  test('n3 serves n1–n2 and n2–n4, not n1–n4 (not peers); the nodes offer it only for those pairs; a refused pair is dropped and counted', async () => {
    await waitFor('n3 to serve the two allowed pairs', async () => (await plab!.status('n3')).relay?.pairs === 2, 30_000, 200);
    expect((await plab!.status('n3')).relay).toMatchObject({ running: true, pairs: 2, error: null });
    await waitFor('the relayed candidates', async () => (await relayCandidates('n1', 'n2'))?.length === 1 && (await relayCandidates('n4', 'n2'))?.length === 1, 30_000, 200);
    expect(await relayCandidates('n1', 'n2')).toEqual(['n3']);
    expect(await relayCandidates('n2', 'n4')).toEqual(['n3']);
    // n1 and n4 are not peers: neither map holds the other.
    expect(await relayCandidates('n1', 'n4')).toBeNull();
    expect(await relayCandidates('n4', 'n1')).toBeNull();

    // n4 (registered at the relay by its agent's pings) sends n1 a datagram through the relay: refused, counted.
    const n4 = plab!.node('n4');
    const n1Key = (await plab!.status('n1')).node.wgKey;
    const n4Key = (await plab!.status('n4')).node.wgKey;
    const n2Key = (await plab!.status('n2')).node.wgKey;
    const priv = JSON.parse(readFileSync(join(n4.stateDir, 'identity.json'), 'utf8')).wg.privateKey as string;
    await waitFor('n4 registered at the relay', async () => ((await plab!.status('n3')).relay?.nodes ?? 0) >= 3, 30_000, 200);
    const before = (await plab!.status('n3')).relay!;
    const ch = await DeviceDatagramChannel.connect(controlSocketPath(n4.iface));
    try {
      const to = `${plab!.node('n3').underlay}:${DEFAULT_RELAY_PORT}`;
      const datagram = (receiver: string) =>
        sealDisco({ type: DiscoType.PING, sender: n4Key, receiver, txId: randomBytes(12), timestampUs: BigInt(Date.now()) * 1000n, body: Buffer.alloc(0) }, discoPairKey(priv, receiver));
      for (let i = 0; i < 5; i++) await ch.send(to, datagram(n1Key));
      await waitFor('the refused datagrams counted', async () => ((await plab!.status('n3')).relay!.drops.notAllowed ?? 0) >= (before.drops.notAllowed ?? 0) + 5, 10_000, 100);
      // The allowed pair n4–n2 is forwarded the same way.
      const forwarded = (await plab!.status('n3')).relay!.forwardedPackets;
      await ch.send(to, datagram(n2Key));
      await waitFor('the allowed datagram forwarded', async () => (await plab!.status('n3')).relay!.forwardedPackets > forwarded, 10_000, 100);
    } finally {
      ch.close();
    }
  }, 120_000);

  test('agents report their endpoints as candidates (wire version 2): kind, interface and when learned, stored and shown', async () => {
    type View = { name: string; endpoints: string[]; candidates?: Array<{ kind: string; address: string; learnedAt: number; source?: string }> };
    const { value: n1 } = await waitFor(
      "n1's candidates with their interface (only a version-2 report carries one)",
      async () => {
        const nodes = (await (await plab!.adminFetch('/v1/admin/nodes')).json()) as View[];
        const n = nodes.find((x) => x.name === 'n1');
        return n?.candidates?.some((c) => c.source !== undefined) ? n : null;
      },
      30_000,
      200,
    );
    const port = (await plab!.status('n1')).node.listenPort;
    expect(n1.candidates![0]).toMatchObject({ kind: 'local', address: `${plab!.node('n1').underlay}:${port}`, learnedAt: expect.any(Number), source: expect.stringMatching(/\S/) });
    expect(n1.candidates!.map((c) => c.address)).toEqual(n1.endpoints);
    // Peers' maps carry them too: n2 probes n1 on that address.
    const toN1 = (await plab!.status('n2')).paths?.peers.find((p) => p.peer === 'n1');
    expect(toN1?.candidates.some((c) => c.kind === 'direct' && c.endpoint === n1.candidates![0]!.address)).toBe(true);
  }, 60_000);

  test("a policy that takes n4's relay grant away leaves n3 serving n1–n2 only, and n4 no relayed candidate", async () => {
    await pushPolicy(plab!, resolve(FIXTURES, 'relay-pairs-n4-out'));
    await waitFor('n3 to serve one pair', async () => (await plab!.status('n3')).relay?.pairs === 1, 30_000, 200);
    await waitFor('n4 without a relayed candidate', async () => (await relayCandidates('n4', 'n2'))?.length === 0, 30_000, 200);
    expect(await relayCandidates('n2', 'n4')).toEqual([]);
    expect(await relayCandidates('n1', 'n2')).toEqual(['n3']);
  }, 90_000);
});
