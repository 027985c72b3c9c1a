/**
 * Subnet routes in a hub-and-spoke topology (issue 12): a 4-node lab, hub n1, client spoke n2, and
 * the site LAN 10.20.0.0/24 (host 10.20.0.10) behind the spokes n3 (priority 200) and n4 (190),
 * posture-opa deciding access (the shipped allow-all policy, so every packet filter is in force).
 * n2 has no tunnel to either gateway, yet reaches the host through the hub: its device sends the
 * LAN to n1, n1 forwards it to the primary gateway, and traceroute shows hub, gateway, host. When
 * the primary's agent dies the route moves to n4, still through the hub. `--route-include` on n2
 * keeps the LAN out unless it lies inside the list. A Rego policy that gives
 * the LAN to n1 alone takes the route from n2; packets n2 forces through the hub anyway are
 * forwarded by the hub and dropped by the gateway's packet filter.
 */
import { execFileSync } from 'node:child_process';
import { Lab } from '../core/src/lab/lab';
import type { RouteView } from '../core/src/wire';
import { resolve } from 'node:path';
import { pushPolicy } from './support/policy';
import { waitFor } from './support/wait';

const CONFIG = resolve(__dirname, 'fixtures', 'posture-lab.yaml');
const LAN_FOR_N1 = resolve(__dirname, 'fixtures', 'routes-lan-for-n1');
const LAN = '10.20.0.0/24';
const HOST = '10.20.0.10';
const HOLD_DOWN_MS = 2_500;

describe('subnet routes behind a spoke, through the hub', () => {
  let lab: Lab | null = null;
  const keyOf = new Map<string, string>();
  const ip = (n: string) => lab!.node(n).addresses!.ipv4.split('/')[0]!;
  const iface = (n: string) => lab!.node(n).iface;
  const ping = async (from: string, to: string, count = 1) => (await lab!.exec(from, 'ping', ['-n', '-c', String(count), '-W', '1', to], { timeoutMs: 10_000 })).code === 0;
  const kernelRoute = async (node: string, prefix: string) => (await lab!.exec(node, 'ip', ['route', 'show', prefix])).stdout.trim();
  const devicePeers = async (n: string): Promise<string[]> => {
    const r = await lab!.exec(n, 'wg', ['show', iface(n), 'peers']);
    const names = new Map([...keyOf].map(([name, key]) => [key, name]));
    return r.stdout.split('\n').filter((l) => l.trim() !== '').map((k) => names.get(k.trim()) ?? k).sort();
  };
  /** allowedIps: the allowed IPs n's device gives peer (read from the device). */
  const allowedIps = async (n: string, peer: string): Promise<string[]> => {
    const r = await lab!.exec(n, 'wg', ['show', iface(n), 'allowed-ips']);
    const line = r.stdout.split('\n').find((l) => l.startsWith(keyOf.get(peer)!)) ?? '';
    return line.split(/\s+/).slice(1).filter((x) => x !== '').sort();
  };
  const installed = async (n: string) => (await lab!.status(n)).routes?.installed.find((r) => r.prefix === LAN) ?? null;
  /** hops: a full traceroute from n2 to the host; a probe lost to ICMP rate limits ("*") is traced again. */
  const hops = async (): Promise<string[]> => {
    const { value } = await waitFor('a full trace n2 -> host', async () => {
      const t = await lab!.exec('n2', 'traceroute', ['-n', '-q', '1', '-w', '1', '-m', '5', HOST], { timeoutMs: 15_000 });
      if (t.code !== 0) return null;
      const h = t.stdout.split('\n').slice(1).filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s+/)[1]!);
      return h[h.length - 1] === HOST && !h.includes('*') ? h : null;
    }, 15_000, 300);
    return value;
  };
  /** counter: the packets an nft rule with the given comment counted in n's trellis table. */
  const counter = async (n: string, comment: string): Promise<number> => {
    const out = (await lab!.exec(n, 'nft', ['list', 'table', 'inet', 'trellis'])).stdout;
    const line = out.split('\n').find((l) => l.includes(`comment "${comment}"`));
    const m = line?.match(/counter packets (\d+)/);
    if (!m) throw new Error(`no counter "${comment}" in ${n}'s trellis table:\n${out}`);
    return Number(m[1]);
  };
  const decide = (node: string) => lab!.adminFetch('/v1/admin/routes/decide', { method: 'POST', body: JSON.stringify({ node, prefix: LAN, decision: 'approve' }) });

  beforeAll(async () => {
    lab = await Lab.up({
      nodes: 4,
      configFile: CONFIG,
      topology: { mode: 'hub-and-spoke', hubs: ['node:n1'] },
      sites: [{ prefix: LAN, gateways: ['n3', 'n4'] }],
      env: { TRELLIS_ROUTE_HOLD_DOWN: `${HOLD_DOWN_MS}ms` },
      agentArgs: { n3: ['--route-check-interval', '200ms'], n4: ['--route-check-interval', '200ms'] },
      readyTimeoutMs: 90_000,
    });
    for (const n of ['n1', 'n2', 'n3', 'n4']) keyOf.set(n, (await lab.status(n)).node.wgKey);
    await waitFor('both gateways to advertise', async () => ((await (await lab!.adminFetch('/v1/admin/routes')).json()) as RouteView[]).length === 2, 15_000, 100);
  }, 150_000);

  afterAll(async () => {
    await lab?.down();
  }, 30_000);

  it('before approval nothing is installed; once approved the client spoke reaches the host through the hub and the primary gateway', async () => {
    expect(await kernelRoute('n2', LAN)).toBe('');
    expect(await ping('n2', HOST)).toBe(false);
    expect((await decide('n3')).status).toBe(200);
    expect((await decide('n4')).status).toBe(200);
    const { ms } = await waitFor('n2 to reach the site host', () => ping('n2', HOST), 15_000, 100);
    expect(ms).toBeLessThan(15_000);
    // n2 has no tunnel to the gateways: its only WireGuard peer is the hub, which carries the LAN.
    expect(await devicePeers('n2')).toEqual(['n1']);
    expect(await allowedIps('n2', 'n1')).toContain(LAN);
    expect(await kernelRoute('n2', LAN)).toContain(`dev ${iface('n2')}`);
    // The hub sends the LAN to the primary gateway (its device and kernel), and forwards between tunnels.
    expect(await allowedIps('n1', 'n3')).toContain(LAN);
    expect(await allowedIps('n1', 'n4')).not.toContain(LAN);
    expect(await kernelRoute('n1', LAN)).toContain(`dev ${iface('n1')}`);
    // The path: the hub, the gateway, the host.
    expect(await hops()).toEqual([ip('n1'), ip('n3'), HOST]);
    // Visible: the client names the hub and the gateway behind it, the hub what it forwards.
    expect(await installed('n2')).toEqual({ prefix: LAN, via: 'n1', gateway: 'n3' });
    expect((await lab!.status('n1')).topology).toMatchObject({ role: 'hub', forwarding: true, forwards: [{ prefix: LAN, via: 'n3' }] });
    expect((await lab!.status('n2')).topology).toMatchObject({ role: 'spoke', via: 'n1' });
    // The gateways keep their own LAN route.
    expect(await kernelRoute('n3', LAN)).toContain('dev lan0');
    expect(await kernelRoute('n4', LAN)).toContain('dev lan0');
  }, 60_000);

  it('when the primary gateway\'s agent dies, the route moves to the backup, still through the hub, and returns after the hold-down', async () => {
    const started = Date.now();
    await lab!.killAgent('n3');
    await waitFor('n2 to route the LAN to n4 through the hub', async () => (await installed('n2'))?.gateway === 'n4', 10_000, 50);
    await waitFor('the host to answer through n4', () => ping('n2', HOST), 5_000, 50);
    const ms = Date.now() - started;
    process.stderr.write(`failover through the hub: ${ms} ms\n`);
    expect(ms).toBeLessThan(3_000 + 2_000);
    expect(await installed('n2')).toEqual({ prefix: LAN, via: 'n1', gateway: 'n4' });
    expect(await allowedIps('n1', 'n4')).toContain(LAN);
    expect(await hops()).toEqual([ip('n1'), ip('n4'), HOST]);
    await lab!.startAgent('n3');
    await waitFor('the route to return to n3 after the hold-down', async () => (await installed('n2'))?.gateway === 'n3', HOLD_DOWN_MS + 20_000, 100);
    expect(Date.now() - started).toBeGreaterThanOrEqual(HOLD_DOWN_MS);
    await waitFor('the host to answer through n3', () => ping('n2', HOST), 10_000, 100);
    expect(await hops()).toEqual([ip('n1'), ip('n3'), HOST]);
  }, 60_000);

  it('--route-include keeps the LAN out when it lies outside the list, and in when inside', async () => {
    lab!.setAgentArgs('n2', ['--route-include', '10.30.0.0/16']);
    await lab!.stopAgent('n2');
    await lab!.startAgent('n2');
    await waitFor('n2 to run without the LAN', async () => (await lab!.status('n2')).topology?.via === 'n1' && (await installed('n2')) === null, 15_000, 100);
    expect(await kernelRoute('n2', LAN)).toBe('');
    expect(await allowedIps('n2', 'n1')).not.toContain(LAN);
    expect(await ping('n2', HOST)).toBe(false);
    expect((await lab!.status('n2')).routes?.include).toEqual(['10.30.0.0/16']);
    lab!.setAgentArgs('n2', ['--route-include', '10.20.0.0/16']);
    await lab!.stopAgent('n2');
    await lab!.startAgent('n2');
    await waitFor('n2 to reach the host again', () => ping('n2', HOST), 15_000, 100);
    expect(await installed('n2')).toEqual({ prefix: LAN, via: 'n1', gateway: 'n3' });
  }, 60_000);

  it('a policy that gives the LAN to n1 alone takes it from n2; packets n2 forces through the hub are dropped by the gateway\'s filter', async () => {
    await pushPolicy(lab!, LAN_FOR_N1);
    await waitFor('n2 to lose the LAN route', async () => (await kernelRoute('n2', LAN)) === '' && (await installed('n2')) === null, 15_000, 100);
    expect(await allowedIps('n2', 'n1')).not.toContain(LAN);
    expect(await ping('n2', HOST)).toBe(false);
    // n1, allowed, reaches the host; n2 still reaches the gateway itself (the mesh rule), through the hub.
    await waitFor('n1 to reach the host', () => ping('n1', HOST), 15_000, 100);
    expect(await ping('n2', ip('n3'))).toBe(true);
    // The hub still forwards the LAN for whoever may use it; the gateway's packet filter decides.
    expect(await allowedIps('n1', 'n3')).toContain(LAN);
    // n2 forces the LAN into its tunnel to the hub: the hub forwards, the gateway drops.
    const hubKey = keyOf.get('n1')!;
    const own = await allowedIps('n2', 'n1');
    expect((await lab!.exec('n2', 'wg', ['set', iface('n2'), 'peer', hubKey, 'allowed-ips', [...own, LAN].join(',')])).code).toBe(0);
    expect((await lab!.exec('n2', 'ip', ['route', 'replace', LAN, 'dev', iface('n2')])).code).toBe(0);
    const forwardedBefore = await counter('n1', 'trellis: hub forwards between spokes');
    const droppedBefore = await counter('n3', 'not allowed by the packet filter');
    expect(await ping('n2', HOST, 3)).toBe(false);
    expect(await counter('n1', 'trellis: hub forwards between spokes')).toBeGreaterThanOrEqual(forwardedBefore + 3);
    expect(await counter('n3', 'not allowed by the packet filter')).toBeGreaterThanOrEqual(droppedBefore + 3);
    // Put n2's device back as its map says.
    await lab!.exec('n2', 'ip', ['route', 'del', LAN, 'dev', iface('n2')]);
    await lab!.exec('n2', 'wg', ['set', iface('n2'), 'peer', hubKey, 'allowed-ips', own.join(',')]);
  }, 60_000);

  it('lab down removes the site LAN with every node namespace', async () => {
    const site = lab!.describe().sites[0]!.namespace;
    const namespaces = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('trl-'));
    expect(namespaces()).toContain(site);
    const down = lab!;
    lab = null;
    await down.down();
    expect(namespaces()).toEqual([]);
  }, 30_000);
});
