/**
 * Subnet routes end to end: a 3-node lab with a site LAN 10.20.0.0/24 behind n2 (namespace
 * trl-site1, host 10.20.0.10). n2 advertises the LAN (`--advertise-routes`, lab --site); nothing is
 * installed before approval; after `routes approve` n1 and n3 reach the host through n2 (traceroute
 * shows n2's overlay address as the first hop); a Rego policy takes the LAN away from n3; the
 * policy's auto-approvers approve a route; bad routes are refused with clear errors and never
 * installed; a rejected route leaves every map.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defaultCliPath, Lab } from '../core/src/lab/lab';
import type { RouteView } from '../core/src/wire';
import { pushPolicy } from './support/policy';
import { waitFor } from './support/wait';

const CONFIG = resolve(__dirname, 'fixtures', 'posture-lab.yaml');
const FIXTURE = resolve(__dirname, 'fixtures', 'routes-lan-for-n1');
const LAN = '10.20.0.0/24';
const HOST = '10.20.0.10';

describe('subnet routes through an approved gateway', () => {
  let lab: Lab | null = null;
  const ip = (n: string) => lab!.node(n).addresses!.ipv4.split('/')[0]!;

  const routes = async (): Promise<RouteView[]> => {
    const res = await lab!.adminFetch('/v1/admin/routes');
    expect(res.status).toBe(200);
    return (await res.json()) as RouteView[];
  };
  const route = async (node: string, prefix: string) => (await routes()).find((r) => r.node === node && r.prefix === prefix);
  const decide = (node: string, prefix: string, decision: 'approve' | 'reject') =>
    lab!.adminFetch('/v1/admin/routes/decide', { method: 'POST', body: JSON.stringify({ node, prefix, decision }) });
  const ping = async (from: string, to: string) => (await lab!.exec(from, 'ping', ['-n', '-c', '1', '-W', '1', to], { timeoutMs: 5000 })).code === 0;
  const kernelRoute = async (node: string, prefix: string) => (await lab!.exec(node, 'ip', ['route', 'show', prefix])).stdout.trim();

  beforeAll(async () => {
    lab = await Lab.up({ nodes: 3, configFile: CONFIG, sites: [{ prefix: LAN, gateways: ['n2'] }], readyTimeoutMs: 60_000 });
  }, 90_000);

  afterAll(async () => {
    await lab?.down();
  }, 30_000);

  it('the gateway advertises the LAN; pending, it is installed nowhere and the host is unreachable', async () => {
    const { value: r } = await waitFor('n2 to advertise the LAN', () => route('n2', LAN), 10_000, 100);
    expect(r).toMatchObject({ status: 'pending', kind: 'subnet', check: HOST, advertised: true, primary: false });
    expect(await kernelRoute('n1', LAN)).toBe('');
    expect(await ping('n1', HOST)).toBe(false);
    // The gateway forwards (and masquerades) as soon as it advertises; its own LAN route stays.
    expect((await lab!.exec('n2', 'cat', ['/proc/sys/net/ipv4/ip_forward'])).stdout.trim()).toBe('1');
    expect(await kernelRoute('n2', LAN)).toContain('dev lan0');
  }, 20_000);

  it('once approved, n1 and n3 reach the host through n2, and traceroute shows the path', async () => {
    const res = await decide('n2', LAN, 'approve');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'approved', primary: true, healthy: true });
    const { ms } = await waitFor('n1 to reach the site host', () => ping('n1', HOST), 10_000, 100);
    expect(ms).toBeLessThan(10_000);
    expect(await kernelRoute('n1', LAN)).toContain(`dev ${lab!.node('n1').iface}`);
    await waitFor('n3 to reach the site host', () => ping('n3', HOST), 10_000, 100);
    const trace = await lab!.exec('n1', 'traceroute', ['-n', '-q', '1', '-w', '1', '-m', '5', HOST], { timeoutMs: 15_000 });
    expect(trace.code).toBe(0);
    const hops = trace.stdout.split('\n').slice(1).filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s+/)[1]);
    expect(hops[0]).toBe(ip('n2'));
    expect(hops[hops.length - 1]).toBe(HOST);
    // The gateway does not route its own LAN into the tunnel.
    expect(await kernelRoute('n2', LAN)).toContain('dev lan0');
    expect((await lab!.exec('n2', 'nft', ['list', 'table', 'inet', 'trellis_gateway'])).stdout).toContain('masquerade');
    // trellis status: the client lists the route and its gateway; the gateway its advertisement.
    expect((await lab!.status('n1')).routes?.installed).toEqual([{ prefix: LAN, via: 'n2' }]);
    await waitFor('n2 to report its route approved and checked', async () => {
      const r = (await lab!.status('n2')).routes;
      return r?.forwarding && r.advertised[0]?.status === 'approved' && r.advertised[0]?.checkOk === true;
    }, 10_000, 100);
  }, 40_000);

  it('the Rego policy takes the LAN away from n3 and leaves it to n1', async () => {
    await pushPolicy(lab!, FIXTURE);
    await waitFor('n3 to lose the LAN route', async () => (await kernelRoute('n3', LAN)) === '', 15_000, 100);
    expect(await ping('n3', HOST)).toBe(false);
    await waitFor('n1 to keep reaching the host', () => ping('n1', HOST), 10_000, 100);
    // n3 still reaches the gateway itself (the mesh rule).
    expect(await ping('n3', ip('n2'))).toBe(true);
  }, 40_000);

  it('the policy auto-approves a route inside its auto-approvers; an overlapping one waits and cannot be approved', async () => {
    lab!.setAgentArgs('n3', ['--advertise-routes', '10.30.0.0/24,10.20.0.0/16']);
    await lab!.stopAgent('n3');
    await lab!.startAgent('n3');
    const { value: auto } = await waitFor('n3\'s 10.30.0.0/24 to be approved by the policy', async () => {
      const r = await route('n3', '10.30.0.0/24');
      return r?.status === 'approved' ? r : null;
    }, 15_000, 100);
    expect(auto.decidedBy).toBe('policy');
    expect((await route('n3', '10.20.0.0/16'))?.status).toBe('pending');
    const res = await decide('n3', '10.20.0.0/16', 'approve');
    expect(res.status).toBe(409);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('TRELLIS_ERR_ROUTE_CONFLICT');
    expect(body.error.message).toContain('overlaps the approved route 10.20.0.0/24 of n2');
    expect((await route('n3', '10.20.0.0/16'))?.status).toBe('pending');
    // n1 keeps its path through n2 and never installs the pending prefix.
    expect(await kernelRoute('n1', '10.20.0.0/16')).toBe('');
    expect(await ping('n1', HOST)).toBe(true);
  }, 60_000);

  it('a route inside the overlay stops `trellis up` with the controller\'s message; nothing is stored', async () => {
    lab!.setAgentArgs('n3', ['--advertise-routes', '100.64.9.0/24']);
    await lab!.stopAgent('n3');
    await lab!.startAgent('n3').catch(() => undefined);
    const log = lab!.node('n3').log;
    await waitFor('n3 to stop with the refusal', () => readFileSync(log, 'utf8').includes('overlaps the overlay 100.64.0.0/10'), 15_000, 100);
    expect(await route('n3', '100.64.9.0/24')).toBeUndefined();
    expect((await route('n3', '10.30.0.0/24'))?.status).toBe('approved');
  }, 40_000);

  it('malformed and default routes are refused by `trellis up` before anything starts', async () => {
    const up = (routesFlag: string) =>
      new Promise<{ code: number; stderr: string }>((done) => {
        execFile(
          process.execPath,
          [defaultCliPath(), 'up', '--controller', lab!.controllerUrl, '--name', 'bad', '--state-dir', '/nonexistent/trellis-bad', '--iface', 'trlbad0', '--advertise-routes', routesFlag],
          { timeout: 10_000 },
          (err, _stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
        );
      });
    const cases: Array<[string, RegExp]> = [
      ['10.20.0.5/24', /host bits set; the network is 10\.20\.0\.0\/24/],
      ['10.20.0.0/33', /is not an IPv4 or IPv6 CIDR/],
      ['banana', /has no prefix length/],
      ['0.0.0.0/0', /is a default route; advertise an exit node with --advertise-exit/],
      ['10.20.0.0/24,10.20.0.0/23', /routes 10\.20\.0\.0\/24 and 10\.20\.0\.0\/23 of this node overlap/],
    ];
    for (const [flag, message] of cases) {
      const r = await up(flag);
      expect({ flag, code: r.code }).toEqual({ flag, code: 2 });
      expect(r.stderr).toMatch(message);
    }
  }, 60_000);

  it('approving an unknown route is a 404; a rejected route leaves every map', async () => {
    const unknown = await decide('n2', '10.99.0.0/24', 'approve');
    expect(unknown.status).toBe(404);
    const res = await decide('n2', LAN, 'reject');
    expect(res.status).toBe(200);
    await waitFor('n1 to lose the LAN route', async () => (await kernelRoute('n1', LAN)) === '', 10_000, 100);
    expect(await ping('n1', HOST)).toBe(false);
    expect((await route('n2', LAN))?.status).toBe('rejected');
  }, 30_000);
});
