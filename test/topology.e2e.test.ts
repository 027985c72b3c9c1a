/**
 * Topologies end to end (issue 12, test 4): one 5-node lab started hub-and-spoke with hubs n1 and n2
 * (`lab up --topology hub-and-spoke --hubs n1,n2`), posture-opa deciding access (the shipped
 * allow-all policy, so every node's packet filter is in force). Spokes configure only the hubs as
 * WireGuard peers (read from the device), every pair pings, traceroute shows the hub; the spokes
 * move to n2 when n1's agent dies; then partial and hybrid set at runtime (`trellis topology set`),
 * bad input refused with the topology in force kept, and a Rego policy choosing the topology.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defaultCliPath, Lab } from '../core/src/lab/lab';
import type { NodeView, TopologyView } from '../core/src/wire';
import { dumpLabNodes } from './support/lab-failure-dump';
import { pushPolicy } from './support/policy';
import { waitFor } from './support/wait';

const CONFIG = resolve(__dirname, 'fixtures', 'posture-lab.yaml');
const NODES = ['n1', 'n2', 'n3', 'n4', 'n5'];

describe('topologies on the lab', () => {
  let lab: Lab | null = null;
  const keyOf = new Map<string, string>();
  const ip = (n: string) => lab!.node(n).addresses!.ipv4.split('/')[0]!;
  const ping = async (from: string, to: string) => (await lab!.exec(from, 'ping', ['-n', '-c', '1', '-W', '1', ip(to)], { timeoutMs: 5000 })).code === 0;
  /** The WireGuard peers the node's device holds, by node name (read from the device, not the map). */
  const devicePeers = async (n: string): Promise<string[]> => {
    const r = await lab!.exec(n, 'wg', ['show', lab!.node(n).iface, 'peers']);
    expect(r.code).toBe(0);
    const names = new Map([...keyOf].map(([name, key]) => [key, name]));
    return r.stdout.split('\n').filter((l) => l.trim() !== '').map((k) => names.get(k.trim()) ?? k).sort();
  };
  const view = async (node?: string): Promise<TopologyView> => {
    const res = await lab!.adminFetch(`/v1/admin/topology${node ? `?node=${node}` : ''}`);
    expect(res.status).toBe(200);
    return (await res.json()) as TopologyView;
  };
  const setTopology = (body: unknown) => lab!.adminFetch('/v1/admin/topology', { method: 'PUT', body: JSON.stringify(body) });
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
  /** waitPeers waits until every node's device holds exactly the peers given. */
  const waitPeers = async (want: Record<string, string[]>, timeoutMs = 15_000) => {
    for (const [n, peers] of Object.entries(want)) {
      await waitFor(`${n} to configure ${peers.join(', ') || 'no peers'}`, async () => JSON.stringify(await devicePeers(n)) === JSON.stringify(peers), timeoutMs, 200);
    }
  };
  /** allPairsPing waits for each pair to ping; when one does not, both ends' devices, filters and the lab's logs are kept. */
  const allPairsPing = async (pairs: Array<[string, string]>) => {
    for (const [a, b] of pairs) {
      try {
        await waitFor(`${a} to ping ${b}`, () => ping(a, b), 15_000, 200);
      } catch (err) {
        const kept = await dumpLabNodes(lab!, [a, b], `topology-${a}-${b}`).catch((e: Error) => `(not kept: ${e.message})`);
        throw new Error(`${(err as Error).message}; both ends and the lab logs are kept in ${kept}`);
      }
    }
  };
  const pairs = (names: string[]) => names.flatMap((a, i) => names.slice(i + 1).map((b) => [a, b] as [string, string]));
  /** firstHop: the hops traceroute sees; a probe lost to ICMP rate limits ("*") is traced again, up to 10 s. */
  const firstHop = async (from: string, to: string) => {
    const trace = async () => {
      const t = await lab!.exec(from, 'traceroute', ['-n', '-q', '1', '-w', '1', '-m', '4', ip(to)], { timeoutMs: 15_000 });
      expect(t.code).toBe(0);
      return t.stdout.split('\n').slice(1).filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s+/)[1]!);
    };
    const { value } = await waitFor(`a full trace ${from} -> ${to}`, async () => {
      const hops = await trace();
      return hops[hops.length - 1] === ip(to) ? hops : null;
    }, 10_000, 300);
    return value;
  };

  beforeAll(async () => {
    lab = await Lab.up({ nodes: 5, configFile: CONFIG, topology: { mode: 'hub-and-spoke', hubs: ['node:n1', 'node:n2'] }, readyTimeoutMs: 90_000 });
    for (const n of NODES) keyOf.set(n, (await lab.status(n)).node.wgKey);
  }, 150_000);

  afterAll(async () => {
    await lab?.down();
  }, 30_000);

  it('hub-and-spoke: spokes configure only the hubs, every pair talks, spoke to spoke through the first hub', async () => {
    // Lab.up was ready with each node's peers as the controller counts them; the devices agree.
    for (const s of ['n3', 'n4', 'n5']) expect(await devicePeers(s)).toEqual(['n1', 'n2']);
    expect(await devicePeers('n1')).toEqual(['n2', 'n3', 'n4', 'n5']);
    // The spoke's device carries the overlay through n1 only.
    const allowed = (await lab!.exec('n3', 'wg', ['show', lab!.node('n3').iface, 'allowed-ips'])).stdout;
    expect(allowed).toContain(`${keyOf.get('n1')}\t100.64.`);
    expect(allowed.split('\n').find((l) => l.startsWith(keyOf.get('n1')!))).toMatch(/100\.64\.0\.0\/10/);
    expect(allowed.split('\n').find((l) => l.startsWith(keyOf.get('n2')!))).not.toMatch(/100\.64\.0\.0\/10/);
    await allPairsPing(pairs(NODES));
    expect(await firstHop('n3', 'n4')).toEqual([ip('n1'), ip('n4')]);
    // The destination's own packet filter still decides: it is in force on every node.
    expect((await lab!.exec('n4', 'nft', ['list', 'table', 'inet', 'trellis'])).stdout).toContain('jump mesh_in');
    expect((await lab!.exec('n1', 'nft', ['list', 'table', 'inet', 'trellis'])).stdout).toContain('hub forwards between spokes');
    // Visible: the topology, each node's role and peers, per peer direct or via which hub.
    const v = await view('n3');
    expect(v).toMatchObject({ mode: 'hub-and-spoke', source: 'config', activeHub: 'n1' });
    expect(v.nodes.map((n) => [n.name, n.role, n.peers, n.via])).toEqual([
      ['n1', 'hub', 4, null],
      ['n2', 'hub', 4, null],
      ['n3', 'spoke', 2, 'n1'],
      ['n4', 'spoke', 2, 'n1'],
      ['n5', 'spoke', 2, 'n1'],
    ]);
    expect(v.paths!.map((p) => [p.peer, p.path, p.via])).toEqual([
      ['n1', 'direct', null],
      ['n2', 'direct', null],
      ['n4', 'hub', 'n1'],
      ['n5', 'hub', 'n1'],
    ]);
    const nodes = (await (await lab!.adminFetch('/v1/admin/nodes')).json()) as NodeView[];
    expect(nodes.find((n) => n.name === 'n4')!.topology).toEqual({ role: 'spoke', peers: 2, via: 'n1' });
    const status = await lab!.status('n3');
    expect(status.topology).toMatchObject({ role: 'spoke', via: 'n1' });
    expect(status.peers.filter((p) => p.hub).map((p) => p.name).sort()).toEqual(['n1', 'n2']);
    expect((await lab!.status('n1')).topology).toMatchObject({ role: 'hub', forwarding: true });
    const text = trellis('topology', '--node', 'n3');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^n4\s+via hub n1$/m);
  }, 90_000);

  it('when the first hub dies, spokes go through the second, and back when it returns', async () => {
    await lab!.killAgent('n1');
    const { ms } = await waitFor('n3 to reach n4 through n2', async () => (await ping('n3', 'n4')) && (await lab!.status('n3')).topology?.via === 'n2', 20_000, 200);
    expect(ms).toBeLessThan(20_000);
    expect(await firstHop('n3', 'n4')).toEqual([ip('n2'), ip('n4')]);
    expect((await view()).activeHub).toBe('n2');
    await lab!.startAgent('n1');
    await waitFor('the spokes to go back through n1', async () => (await lab!.status('n5')).topology?.via === 'n1' && (await ping('n5', 'n3')), 30_000, 200);
  }, 90_000);

  it('partial: only the listed nodes get direct tunnels; the rest cannot talk without hubs, and go through a hub when there is one', async () => {
    const res = await setTopology({ mode: 'partial', direct: ['node:n3', 'node:n4', 'node:n5'] });
    expect(res.status).toBe(200);
    await waitPeers({ n3: ['n4', 'n5'], n4: ['n3', 'n5'], n5: ['n3', 'n4'], n1: [], n2: [] });
    await allPairsPing(pairs(['n3', 'n4', 'n5']));
    expect(await ping('n1', 'n3')).toBe(false);
    expect(await ping('n1', 'n2')).toBe(false);
    // With a hub, the unlisted nodes reach the listed ones through it.
    expect((await setTopology({ mode: 'partial', hubs: ['node:n1'], direct: ['node:n3', 'node:n4'] })).status).toBe(200);
    await waitPeers({ n3: ['n1', 'n4'], n4: ['n1', 'n3'], n5: ['n1'], n2: ['n1'], n1: ['n2', 'n3', 'n4', 'n5'] });
    await allPairsPing(pairs(NODES));
    expect(await firstHop('n5', 'n3')).toEqual([ip('n1'), ip('n3')]);
    expect(await firstHop('n3', 'n4')).toEqual([ip('n4')]);
  }, 90_000);

  it('hybrid: a hub plus a direct link between two sites', async () => {
    expect((await setTopology({ mode: 'hybrid', hubs: ['node:n1'], direct: [['node:n3', 'node:n5']] })).status).toBe(200);
    await waitPeers({ n3: ['n1', 'n5'], n5: ['n1', 'n3'], n4: ['n1'], n2: ['n1'] });
    await allPairsPing(pairs(NODES));
    expect(await firstHop('n3', 'n5')).toEqual([ip('n5')]);
    expect(await firstHop('n3', 'n4')).toEqual([ip('n1'), ip('n4')]);
    const paths = (await view('n5')).paths!;
    expect(paths.find((p) => p.peer === 'n3')).toMatchObject({ path: 'direct' });
    expect(paths.find((p) => p.peer === 'n2')).toMatchObject({ path: 'hub', via: 'n1' });
  }, 90_000);

  it('bad input is refused with a clear error and the topology in force stays', async () => {
    const before = await view();
    const refuse = async (body: unknown, message: string) => {
      const res = await setTopology(body);
      expect(res.status).toBe(400);
      const { error: err } = (await res.json()) as { error: { code: string; message: string } };
      expect(err.code).toBe('TRELLIS_ERR_TOPOLOGY_INVALID');
      expect(err.message).toContain(message);
    };
    await refuse({ mode: 'mesh' }, 'topology.mode "mesh" is not one of full, hub-and-spoke, partial, hybrid');
    await refuse({ mode: 'hub-and-spoke', hubs: ['node:n9'] }, 'topology.hubs[0] "node:n9" matches no node');
    await refuse({ mode: 'partial', direct: ['node:n3', 'tag:nowhere'] }, 'topology.direct[1] "tag:nowhere" matches no node');
    const cli = trellis('topology', 'set', '--mode', 'hub-and-spoke', '--hubs', 'node:ghost');
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain('"node:ghost" matches no node');
    expect((await view()).config).toEqual(before.config);
    expect(await devicePeers('n4')).toEqual(['n1']);
  }, 30_000);

  it('the Rego policy chooses the topology over the config; a topology it refuses leaves the one in force', async () => {
    const version = await pushPolicy(lab!, resolve(__dirname, 'fixtures', 'topology-policy-hub-n2'));
    await waitFor('the policy topology', async () => (await view()).source === 'policy', 10_000, 200);
    expect(await view()).toMatchObject({ mode: 'hub-and-spoke', source: 'policy', policyVersion: version, configured: { mode: 'hybrid' }, activeHub: 'n2' });
    await waitPeers({ n3: ['n2'], n4: ['n2'], n5: ['n2'], n1: ['n2'] });
    await allPairsPing([['n3', 'n4'], ['n1', 'n5']]);
    expect(await firstHop('n1', 'n5')).toEqual([ip('n2'), ip('n5')]);
    await pushPolicy(lab!, resolve(__dirname, 'fixtures', 'topology-policy-invalid'));
    await waitFor('the controller to log the refused topology', () => readFileSync(resolve(lab!.describe().controller.dataDir, '..', 'logs', 'controller.log'), 'utf8').includes('topology_config.mode ring is not one of'), 10_000, 200);
    expect(await view()).toMatchObject({ mode: 'hub-and-spoke', source: 'policy', policyVersion: version });
    expect(await devicePeers('n3')).toEqual(['n2']);
  }, 60_000);
});
