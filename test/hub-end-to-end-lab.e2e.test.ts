/**
 * Hubs that keep end-to-end encryption, on the lab (issue 12, Topologies; docs/hub-end-to-end.md):
 * `lab up --topology hub-and-spoke --hubs n1,n2 --hub-forwarding end-to-end` with posture-opa
 * deciding access. The hubs run their relay forwarder; each spoke configures only the two hubs at
 * rest while its map offers the other spokes on demand. When two spokes talk they add each other
 * through the first hub's relay, so the hub carries only their WireGuard datagrams: a capture on
 * its WireGuard interface sees none of their ICMP, one on its underlay sees UDP to the relay port,
 * and the pair still talks with the hub's IP forwarding off. After idle (--on-demand-idle 10s) the
 * pair is dropped again. A pair the access policy forbids is offered to neither end, the hubs'
 * relays do not serve it, and it cannot talk. Bad input is refused and the topology in force kept.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_RELAY_PORT } from '../core/src/agent/start-options';
import { defaultCliPath, Lab } from '../core/src/lab/lab';
import type { NetworkMapData } from '../core/src/netmap/types';
import type { TopologyView } from '../core/src/wire';
import { pushPolicy } from './support/policy';
import { waitFor } from './support/wait';

const CONFIG = resolve(__dirname, 'fixtures', 'posture-lab.yaml');
/** Long enough that the pair stays up between the test's bursts of traffic on a loaded machine, short enough to watch it go. */
const IDLE = '10s';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('end-to-end hubs on the lab', () => {
  let lab: Lab | null = null;
  const keyOf = new Map<string, string>();
  const ip = (n: string) => lab!.node(n).addresses!.ipv4.split('/')[0]!;
  const ping = async (from: string, to: string, count = 1) => {
    const r = await lab!.exec(from, 'ping', ['-n', '-c', String(count), '-i', '0.1', '-W', '1', ip(to)], { timeoutMs: 10_000 + count * 300 });
    return { ok: r.code === 0, received: Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0) };
  };
  /** The WireGuard peers the node's device holds, by node name (read from the device). */
  const devicePeers = async (n: string): Promise<string[]> => {
    const r = await lab!.exec(n, 'wg', ['show', lab!.node(n).iface, 'peers']);
    expect(r.code).toBe(0);
    const names = new Map([...keyOf].map(([name, key]) => [key, name]));
    return r.stdout.split('\n').filter((l) => l.trim() !== '').map((k) => names.get(k.trim()) ?? k).sort();
  };
  /** The map the node's agent applied (its cache on disk). */
  const mapOf = (n: string) => JSON.parse(readFileSync(resolve(lab!.node(n).stateDir, 'netmap.json'), 'utf8')) as NetworkMapData;
  const offered = (n: string) => (mapOf(n).onDemand ?? []).map((o) => o.name).sort();
  /** The pairs a relay's plan lets its forwarder carry, as "x-y" by node name. */
  const servedPairs = (relay: string) => {
    const m = mapOf(relay);
    const names = new Map([...m.peers, m.self].map((p) => [p.id, p.name]));
    const plan = m.self.relayPairs!;
    const out = new Set<string>();
    plan.links.forEach(([i, j]) => plan.groups[i]!.forEach((x) => plan.groups[j]!.forEach((y) => x !== y && out.add([names.get(x), names.get(y)].sort().join('-')))));
    return [...out].sort();
  };
  const view = async (): Promise<TopologyView> => {
    const res = await lab!.adminFetch('/v1/admin/topology');
    expect(res.status).toBe(200);
    return (await res.json()) as TopologyView;
  };
  const trellis = (...args: string[]) => {
    const r = spawnSync(process.execPath, [defaultCliPath(), ...args], {
      encoding: 'utf8',
      env: {
        ...process.env,
        TRELLIS_CONTROLLER: lab!.describe().controller.url,
        TRELLIS_ADMIN_TOKEN: readFileSync(resolve(lab!.describe().controller.dataDir, 'admin.token'), 'utf8').trim(),
        ...(lab!.describe().controller.caFile ? { TRELLIS_CA: lab!.describe().controller.caFile! } : {}),
      },
      timeout: 30_000,
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  /** bringUp: the two spokes talk until both hold each other end to end (opened after a handshake through the hub relay). */
  const bringUp = async (a: string, b: string) => {
    await waitFor(`${a} and ${b} to open on-demand peers`, async () => {
      await ping(a, b);
      const [sa, sb] = [await lab!.status(a), await lab!.status(b)];
      return sa.topology?.onDemand?.open === 1 && sb.topology?.onDemand?.open === 1;
    }, 30_000, 300);
  };
  /** capture runs tcpdump in a node's namespace for ms and returns the packet lines. */
  const capture = async (n: string, iface: string, filter: string, ms: number) => {
    const r = await lab!.exec(n, 'timeout', [String(ms / 1000), 'tcpdump', '-i', iface, '-n', '-l', '-Z', 'root', '-p', filter], { timeoutMs: ms + 10_000 });
    return r.stdout.split('\n').filter((l) => l.trim() !== '');
  };

  beforeAll(async () => {
    lab = await Lab.up({
      nodes: 5,
      configFile: CONFIG,
      topology: { mode: 'hub-and-spoke', hubs: ['node:n1', 'node:n2'], hubForwarding: 'end-to-end' },
      env: { TRELLIS_ON_DEMAND_IDLE: IDLE },
      readyTimeoutMs: 90_000,
    });
    for (const n of ['n1', 'n2', 'n3', 'n4', 'n5']) keyOf.set(n, (await lab.status(n)).node.wgKey);
  }, 150_000);

  afterAll(async () => {
    await lab?.down();
  }, 30_000);

  it('at rest each spoke configures only the two hubs, which run relays; its map offers the other spokes on demand', async () => {
    for (const s of ['n3', 'n4', 'n5']) expect(await devicePeers(s)).toEqual(['n1', 'n2']);
    expect(lab!.describe().nodes.filter((n) => n.relay).map((n) => n.name)).toEqual(['n1', 'n2']);
    await waitFor('n3 to be offered n4 and n5', () => offered('n3').join() === 'n4,n5', 15_000, 200);
    expect(mapOf('n3').onDemand!.map((o) => o.via.map((id) => mapOf('n3').peers.find((p) => p.id === id)!.name))).toEqual([['n1', 'n2'], ['n1', 'n2']]);
    expect(offered('n1')).toEqual([]);
    // The hubs' relays serve the spoke pairs besides their peers' pairs.
    expect(servedPairs('n1')).toEqual(expect.arrayContaining(['n3-n4', 'n3-n5', 'n4-n5']));
    await waitFor('n3 to watch its offer', async () => (await lab!.status('n3')).topology?.onDemand?.candidates === 2, 15_000, 200);
    const v = await view();
    expect(v.config).toMatchObject({ mode: 'hub-and-spoke', hubForwarding: 'end-to-end' });
    expect(v.describe).toContain('hubs forward end to end');
    expect(v.hubs.map((h) => [h.name, h.relay])).toEqual([['n1', true], ['n2', true]]);
    expect(v.nodes.filter((n) => n.role === 'spoke').map((n) => n.peers)).toEqual([2, 2, 2]);
    const text = trellis('topology');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^forwarding\s+end to end/m);
  }, 60_000);

  it('spoke to spoke talks end to end through the hub relay: the hub sees only their WireGuard datagrams', async () => {
    expect((await ping('n3', 'n4')).ok).toBe(true);
    await bringUp('n3', 'n4');
    expect(await devicePeers('n3')).toEqual(['n1', 'n2', 'n4']);
    expect(await devicePeers('n4')).toEqual(['n1', 'n2', 'n3']);
    expect(await devicePeers('n5')).toEqual(['n1', 'n2']);
    // n3 reaches n4 at the first hub's relay forwarder, with n4's own addresses as allowed IPs.
    const endpoints = (await lab!.exec('n3', 'wg', ['show', lab!.node('n3').iface, 'endpoints'])).stdout;
    expect(endpoints).toContain(`${keyOf.get('n4')}\t${lab!.node('n1').underlay}:${DEFAULT_RELAY_PORT}`);

    // Captures on the hub while the pair talks: nothing of theirs in plaintext on its WireGuard
    // interface, their datagrams on its relay port.
    const wgCapture = capture('n1', lab!.node('n1').iface, `icmp and host ${ip('n3')} and host ${ip('n4')}`, 6000);
    const udpCapture = capture('n1', 'any', `udp port ${DEFAULT_RELAY_PORT}`, 6000);
    await sleep(1500);
    const talk = await ping('n3', 'n4', 20);
    const [onWg, onUdp] = await Promise.all([wgCapture, udpCapture]);
    expect(talk.received).toBeGreaterThanOrEqual(19);
    expect(onWg).toEqual([]);
    expect(onUdp.length).toBeGreaterThanOrEqual(40);

    // The hub's IP forwarding off: the pair still talks, since the hub only relays ciphertext.
    const forwarding = (on: boolean) => lab!.exec('n1', 'sysctl', ['-q', '-w', `net.ipv4.ip_forward=${on ? 1 : 0}`]);
    expect((await forwarding(false)).code).toBe(0);
    try {
      expect((await ping('n3', 'n4', 20)).received).toBeGreaterThanOrEqual(19);
    } finally {
      await forwarding(true);
    }
  }, 90_000);

  it('after idle the pair is dropped, and the spokes talk through the hub again', async () => {
    await waitFor('n3 and n4 to drop the idle pair', async () => (await devicePeers('n3')).join() === 'n1,n2' && (await devicePeers('n4')).join() === 'n1,n2', 30_000, 300);
    expect((await lab!.status('n3')).topology?.onDemand).toMatchObject({ staged: 0, open: 0 });
    expect((await ping('n4', 'n3', 3)).received).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('a pair the access policy forbids is offered to neither end, its relay pair is not served, and it cannot talk', async () => {
    await pushPolicy(lab!, resolve(__dirname, 'fixtures', 'hub-end-to-end-n5-hubs-only'));
    await waitFor('the offers to follow the policy', () => offered('n5').length === 0 && offered('n3').join() === 'n4' && offered('n4').join() === 'n3', 15_000, 200);
    for (const hub of ['n1', 'n2']) {
      expect(servedPairs(hub)).toContain('n3-n4');
      expect(servedPairs(hub).filter((p) => p.includes('n5') && !p.includes('n1') && !p.includes('n2'))).toEqual([]);
    }
    // n5 reaches the hubs only: its packets to n3 die at n3's filter, and no pair comes up.
    for (let i = 0; i < 3; i++) expect((await ping('n5', 'n3')).ok).toBe(false);
    expect((await ping('n5', 'n1')).ok).toBe(true);
    expect(await devicePeers('n5')).toEqual(['n1', 'n2']);
    expect(await devicePeers('n3')).not.toContain('n5');
    // The allowed pair still talks end to end.
    await bringUp('n3', 'n4');
  }, 60_000);

  it('a bad hub forwarding is refused with a clear error and the topology in force stays; hop by hop takes the offer away', async () => {
    const before = await view();
    const res = await lab!.adminFetch('/v1/admin/topology', { method: 'PUT', body: JSON.stringify({ mode: 'hub-and-spoke', hubs: ['node:n1', 'node:n2'], hubForwarding: 'sideways' }) });
    expect(res.status).toBe(400);
    const { error: err } = (await res.json()) as { error: { code: string; message: string } };
    expect(err).toMatchObject({ code: 'TRELLIS_ERR_TOPOLOGY_INVALID' });
    expect(err.message).toContain('topology.hubForwarding "sideways" is not one of hop-by-hop, end-to-end');
    const cli = trellis('topology', 'set', '--mode', 'hub-and-spoke', '--hubs', 'node:n1', '--hub-forwarding', 'sideways');
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain('"sideways" is not one of hop-by-hop, end-to-end');
    expect((await view()).config).toEqual(before.config);
    expect(offered('n3')).toEqual(['n4']);
    // Hop by hop (the default): the maps carry no offer, the spokes keep their hubs.
    const hop = trellis('topology', 'set', '--mode', 'hub-and-spoke', '--hubs', 'node:n1,node:n2');
    expect(hop.code).toBe(0);
    await waitFor('the offer to go', () => mapOf('n3').onDemand === undefined, 15_000, 200);
    await waitFor('n3 to hold the hubs only', async () => (await devicePeers('n3')).join() === 'n1,n2', 20_000, 300);
    // The same capture as end to end now sees the pair's plaintext at the hub (the check above can see it).
    const wgCapture = capture('n1', lab!.node('n1').iface, `icmp and host ${ip('n3')} and host ${ip('n4')}`, 5000);
    await sleep(1500);
    expect((await ping('n3', 'n4', 10)).received).toBeGreaterThanOrEqual(9);
    expect((await wgCapture).length).toBeGreaterThanOrEqual(18);
    expect(await devicePeers('n3')).toEqual(['n1', 'n2']);
  }, 60_000);
});
