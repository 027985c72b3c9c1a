/**
 * Split tunnelling and exit nodes: a 4-node lab with an "internet" namespace (default gateway
 * 198.18.0.3, server 203.0.113.10 whose TCP port 80 answers with the caller's address). n3 and n4
 * advertise themselves as exit nodes (`--advertise-exit`); n1 uses n3 with n4 as fallback and keeps
 * 198.51.100.0/24 outside the tunnel (`--exit-exclude`).
 * - Without an exit node, traffic to the internet leaves n1 directly and never enters its WireGuard
 *   interface (its counters do not move); the server sees n1's own address.
 * - With n3 approved as exit, the same request enters the tunnel and the server sees n3's address;
 *   the excluded destination still leaves directly; the controller stays reachable over the LAN.
 * - When n3 goes offline n1 falls back to n4; an exit node that does not exist is reported.
 */
import { Lab } from '../core/src/lab/lab';
import { waitFor } from './support/wait';

const SERVER = '203.0.113.10';

describe('split tunnelling and exit nodes', () => {
  let lab: Lab | null = null;
  const underlay = (n: string) => lab!.node(n).underlay;

  /** whoAmI: the address the internet server saw n's request come from (null: no answer). */
  const whoAmI = async (n: string, to = SERVER) => {
    const r = await lab!.exec(n, 'curl', ['-s', '--http0.9', '--max-time', '2', `http://${to}/`], { timeoutMs: 5000 });
    return r.code === 0 ? r.stdout.trim() : null;
  };
  /** txBytes of n's WireGuard interface, from the kernel's counters. */
  const txBytes = async (n: string) => {
    const r = await lab!.exec(n, 'cat', [`/sys/class/net/${lab!.node(n).iface}/statistics/tx_bytes`]);
    return Number(r.stdout.trim());
  };
  const decide = (node: string, prefix: string) =>
    lab!.adminFetch('/v1/admin/routes/decide', { method: 'POST', body: JSON.stringify({ node, prefix, decision: 'approve' }) });

  beforeAll(async () => {
    lab = await Lab.up({
      nodes: 4,
      internet: true,
      agentArgs: { n3: ['--advertise-exit'], n4: ['--advertise-exit'] },
      readyTimeoutMs: 60_000,
    });
  }, 90_000);

  afterAll(async () => {
    await lab?.down();
  }, 30_000);

  it('without an exit node, internet traffic leaves directly and never enters the tunnel', async () => {
    const before = await txBytes('n1');
    for (let i = 0; i < 5; i++) expect(await whoAmI('n1')).toBe(underlay('n1'));
    const after = await txBytes('n1');
    // Only keepalives and probes may cross the interface meanwhile, never five HTTP exchanges' worth.
    expect(after - before).toBeLessThan(2_000);
  }, 30_000);

  it('with an approved exit node, the traffic goes through it; excluded destinations and the LAN stay outside', async () => {
    await waitFor('both exit nodes to advertise', async () => {
      const res = await lab!.adminFetch('/v1/admin/routes');
      return ((await res.json()) as Array<{ kind: string }>).filter((r) => r.kind === 'exit').length === 4;
    }, 15_000, 100);
    for (const n of ['n3', 'n4']) for (const p of ['0.0.0.0/0', '::/0']) expect((await decide(n, p)).status).toBe(200);
    lab!.setAgentArgs('n1', ['--exit-node', 'n3', '--exit-node-fallback', 'n4', '--exit-exclude', '198.51.100.0/24']);
    await lab!.stopAgent('n1');
    await lab!.startAgent('n1');
    await waitFor('n1 to use n3 as its exit node', async () => (await lab!.status('n1')).routes?.exit?.inUse === 'n3', 15_000, 100);
    const before = await txBytes('n1');
    const { value: seen } = await waitFor('the server to see n3', async () => {
      const s = await whoAmI('n1');
      return s === underlay('n3') ? s : null;
    }, 10_000, 200);
    expect(seen).toBe(underlay('n3'));
    expect((await txBytes('n1')) - before).toBeGreaterThan(100);
    // The controller (on the lab bridge, the local LAN) is still reached directly: the agent stays connected.
    expect((await lab!.status('n1')).controller.connected).toBe(true);
    // An excluded destination leaves directly: the route lookup for it uses the main table.
    const route = await lab!.exec('n1', 'ip', ['route', 'get', '198.51.100.7']);
    expect(route.stdout).not.toContain(lab!.node('n1').iface);
    const tunneled = await lab!.exec('n1', 'ip', ['route', 'get', SERVER]);
    expect(tunneled.stdout).toContain(lab!.node('n1').iface);
  }, 60_000);

  it('falls back to the second exit node when the first goes offline', async () => {
    await lab!.killAgent('n3');
    await waitFor('n1 to fall back to n4', async () => (await lab!.status('n1')).routes?.exit?.inUse === 'n4', 15_000, 100);
    await waitFor('the server to see n4', async () => (await whoAmI('n1')) === underlay('n4'), 10_000, 200);
    expect((await lab!.status('n1')).routes?.exit?.problem).toMatch(/exit node n3 is offline/);
  }, 40_000);

  it('an exit node that does not exist is reported and traffic leaves directly', async () => {
    lab!.setAgentArgs('n2', ['--exit-node', 'n9']);
    await lab!.stopAgent('n2');
    await lab!.startAgent('n2');
    await waitFor('n2 to report the missing exit node', async () => (await lab!.status('n2')).routes?.exit?.problem?.includes('exit node n9 is not a peer') ?? false, 15_000, 100);
    expect((await lab!.status('n2')).routes?.exit?.inUse).toBeNull();
    expect(await whoAmI('n2')).toBe(underlay('n2'));
  }, 40_000);
});
