/**
 * Split tunnelling and exit nodes (issue 12, tests 3 and 5): one 4-node lab with an "internet"
 * namespace (every node's default gateway 198.18.0.3; HTTP servers 203.0.113.10 and 198.51.100.10
 * answer with the caller's address). n3 and n4 offer themselves as exit nodes (`--advertise-exit`);
 * n1 wants n3, with n4 as fallback, and keeps 198.51.100.0/24 outside the tunnel
 * (`--exit-exclude`); n2 has no exit node (split tunnelling, the default).
 * - Before approval n1's exit node is refused as unapproved and its traffic leaves directly; n2's
 *   internet traffic never enters its WireGuard interface (its counters do not move).
 * - Once approved, n1's internet traffic enters the tunnel and leaves through n3 (the server sees
 *   n3's address), the excluded network still leaves directly, and the LAN and the controller stay
 *   reachable outside the tunnel.
 * - When n3's agent dies n1 falls back to n4 and says why, in `trellis status` and in its metrics
 *   (trellis_exit_node_fallback, the series alert TrellisExitNodeFallback reads) and in the audit log
 *   (conn.exit.switched, which the console and the Audit dashboard list); once n3 is back, n1
 *   returns to it after the 10 s hold-down and not before; an exit node that
 *   does not exist is reported; malformed exit flags are usage errors naming the flag.
 * - The web console (headless Chromium) shows which exit node each node uses, the fallback and why,
 *   which nodes offer an exit and whether it is approved, and marks the tunnel to the exit node in
 *   use; `trellis routes` (the admin view) names the nodes using each exit node.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { spkiSha256 } from '../core/src/auth/controller-trust';
import { defaultCliPath, Lab } from '../core/src/lab/lab';
import { INTERNET_SERVER, INTERNET_SERVER_2 } from '../core/src/lab/lab-internet';
import { ROUTES, type AuditEvent, type RouteView } from '../core/src/wire';
import { waitFor } from './support/wait';

const CONFIG = resolve(__dirname, 'fixtures', 'exit-nodes-lab.yaml');
const EXCLUDED = '198.51.100.0/24';
/** Bytes five HTTP exchanges would add to the WireGuard interface's counters; keepalives and probes stay far below. */
const TUNNEL_QUIET_BYTES = 2_000;

describe('split tunnelling and exit nodes', () => {
  let lab: Lab | null = null;
  let browser: Browser | null = null;
  let page: Page | null = null;
  /** consoleRow: the console's node row as the test reads it (attributes and the exit cell's text). */
  const consoleRow = (n: string) =>
    page!.$eval(`#nodes tr[data-node="${n}"]`, (tr) => ({
      state: tr.getAttribute('data-exit-state'),
      node: tr.getAttribute('data-exit-node'),
      offer: tr.getAttribute('data-exit-offer'),
      text: (tr.querySelector('td.exit')?.textContent ?? '').replace(/\s+/g, ' ').trim(),
    }));
  /** usedBy: the nodes the admin routes view says use n's exit routes. */
  const usedBy = async (n: string) => {
    const res = await lab!.adminFetch('/v1/admin/routes');
    return ((await res.json()) as RouteView[]).filter((r) => r.kind === 'exit' && r.node === n).map((r) => r.usedBy);
  };
  const underlay = (n: string) => lab!.node(n).underlay;
  const iface = (n: string) => lab!.node(n).iface;

  /** whoAmI: the address the internet server saw n's request come from (null: no answer). */
  const whoAmI = async (n: string, to = INTERNET_SERVER) => {
    const r = await lab!.exec(n, 'curl', ['-s', '--max-time', '2', `http://${to}/`], { timeoutMs: 5000 });
    return r.code === 0 ? r.stdout.trim() : null;
  };
  /** tunnelBytes: bytes sent and received on n's WireGuard interface, from the kernel's counters. */
  const tunnelBytes = async (n: string) => {
    const read = async (dir: 'tx' | 'rx') => Number((await lab!.exec(n, 'cat', [`/sys/class/net/${iface(n)}/statistics/${dir}_bytes`])).stdout.trim());
    return (await read('tx')) + (await read('rx'));
  };
  /** requestsFrom runs five requests from n to `to` and returns who the server saw and how far n's tunnel counters moved. */
  const requestsFrom = async (n: string, to = INTERNET_SERVER) => {
    const before = await tunnelBytes(n);
    const seen = new Set<string | null>();
    for (let i = 0; i < 5; i++) seen.add(await whoAmI(n, to));
    return { seen: [...seen], tunnelDelta: (await tunnelBytes(n)) - before };
  };
  const routeGet = async (n: string, dst: string) => (await lab!.exec(n, 'ip', ['route', 'get', dst])).stdout;
  const decide = (node: string, prefix: string) =>
    lab!.adminFetch('/v1/admin/routes/decide', { method: 'POST', body: JSON.stringify({ node, prefix, decision: 'approve' }) });
  const exitStatus = async (n: string) => (await lab!.status(n)).routes?.exit ?? null;
  /** exitMetrics: n's exit node series from its metrics endpoint, as `name{exit_node,role} value` lines. */
  const exitMetrics = async (n: string) => {
    const r = await lab!.exec(n, 'curl', ['-s', '--max-time', '2', 'http://127.0.0.1:9464/metrics'], { timeoutMs: 5000 });
    return r.stdout
      .split('\n')
      .filter((l) => l.startsWith('trellis_exit_node_'))
      .map((l) => {
        const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(l);
        if (!m) return l;
        const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
        return `${m[1]}{${[labels.exit_node, labels.role].filter(Boolean).join(',')}} ${m[3]}`;
      })
      .sort();
  };

  beforeAll(async () => {
    lab = await Lab.up({
      nodes: 4,
      internet: true,
      configFile: CONFIG,
      agentArgs: {
        n1: ['--exit-node', 'n3', '--exit-node-fallback', 'n4', '--exit-exclude', EXCLUDED],
        n3: ['--advertise-exit'],
        n4: ['--advertise-exit'],
      },
      readyTimeoutMs: 60_000,
    });
  }, 90_000);

  afterAll(async () => {
    try {
      await browser?.close();
    } finally {
      await lab?.down();
    }
  }, 30_000);

  it('split tunnelling: internet traffic leaves directly and never enters the tunnel; an unapproved exit node is not used', async () => {
    // n2 has no exit node: only the mesh goes into the tunnel.
    const n2 = await requestsFrom('n2');
    expect(n2.seen).toEqual([underlay('n2')]);
    expect(n2.tunnelDelta).toBeLessThan(TUNNEL_QUIET_BYTES);
    expect(await routeGet('n2', INTERNET_SERVER)).not.toContain(iface('n2'));

    // n3 and n4 offer an exit, but nothing is approved: n1 says so and its traffic leaves directly.
    await waitFor('both exit nodes to advertise', async () => {
      const res = await lab!.adminFetch('/v1/admin/routes');
      const exits = ((await res.json()) as RouteView[]).filter((r) => r.kind === 'exit');
      return exits.length === 4 && exits.every((r) => r.status === 'pending');
    }, 15_000, 100);
    const { value: st } = await waitFor('n1 to report its exit node unapproved', async () => {
      const e = await exitStatus('n1');
      return e?.problem?.includes('exit node n3 does not offer an approved exit route') ? e : null;
    }, 15_000, 100);
    expect(st).toMatchObject({ preferred: 'n3', fallback: 'n4', inUse: null, exclude: [EXCLUDED] });
    const n1 = await requestsFrom('n1');
    expect(n1.seen).toEqual([underlay('n1')]);
    expect(n1.tunnelDelta).toBeLessThan(TUNNEL_QUIET_BYTES);
    expect((await lab!.exec('n1', 'ip', ['rule', 'show'])).stdout).not.toContain('lookup 51820');
  }, 45_000);

  it('with the exit node approved, traffic enters the tunnel and leaves through n3; the excluded network, the LAN and the controller stay outside', async () => {
    for (const n of ['n3', 'n4']) for (const p of ['0.0.0.0/0', '::/0']) expect((await decide(n, p)).status).toBe(200);
    // No restart: the approval reaches n1 in a map update and it switches.
    await waitFor('n1 to use n3 as its exit node', async () => (await exitStatus('n1'))?.inUse === 'n3', 15_000, 100);
    await waitFor('the server to see n3', async () => (await whoAmI('n1')) === underlay('n3'), 10_000, 200);
    const through = await requestsFrom('n1');
    expect(through.seen).toEqual([underlay('n3')]);
    expect(through.tunnelDelta).toBeGreaterThan(TUNNEL_QUIET_BYTES);
    expect(await routeGet('n1', INTERNET_SERVER)).toContain(`dev ${iface('n1')}`);
    expect((await exitStatus('n1'))?.problem).toBeNull();
    expect(await exitMetrics('n1')).toEqual([
      'trellis_exit_node_fallback{n3} 0',
      'trellis_exit_node_in_use{n3,preferred} 1',
      'trellis_exit_node_in_use{n4,fallback} 0',
      'trellis_exit_node_switches_total{} 1',
    ]);
    // A node without --exit-node exports no exit node series.
    expect(await exitMetrics('n2')).toEqual([]);

    // The excluded network leaves directly and does not touch the tunnel.
    const excluded = await requestsFrom('n1', INTERNET_SERVER_2);
    expect(excluded.seen).toEqual([underlay('n1')]);
    expect(excluded.tunnelDelta).toBeLessThan(TUNNEL_QUIET_BYTES);
    expect(await routeGet('n1', INTERNET_SERVER_2)).not.toContain(iface('n1'));

    // The local LAN (the lab bridge) stays outside the tunnel and reachable; so does the controller.
    expect(await routeGet('n1', underlay('n2'))).not.toContain(iface('n1'));
    expect((await lab!.exec('n1', 'ping', ['-n', '-c', '1', '-W', '1', underlay('n2')], { timeoutMs: 5000 })).code).toBe(0);
    expect((await lab!.status('n1')).controller.connected).toBe(true);
    // The mesh itself still works, and n2 (no exit node) is untouched.
    const n2Overlay = lab!.node('n2').addresses!.ipv4.split('/')[0]!;
    expect((await lab!.exec('n1', 'ping', ['-n', '-c', '1', '-W', '1', n2Overlay], { timeoutMs: 5000 })).code).toBe(0);
    expect(await whoAmI('n2')).toBe(underlay('n2'));
  }, 60_000);

  it('the console shows which exit node each node uses and which nodes offer one, approved or not', async () => {
    const cert = lab!.controllerCertificate();
    const pin = cert ? [`--ignore-certificate-errors-spki-list=${spkiSha256(cert)}`] : [];
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-proxy-server', ...pin] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1200 } });
    await page.goto(`${lab!.controllerUrl}/console`);
    await page.fill('#token', readFileSync(join(lab!.describe().controller.dataDir, 'admin.token'), 'utf8').trim());
    await Promise.all([page.waitForURL(/\/console$/), page.click('#login-submit')]);
    await page.waitForSelector('#nodes tr[data-node="n1"][data-exit-state="in-use"][data-exit-node="n3"]', { timeout: 15_000 });
    expect(await consoleRow('n1')).toMatchObject({ state: 'in-use', node: 'n3', offer: null });
    expect((await consoleRow('n1')).text).toBe('via n3 fallback n4');
    expect(await consoleRow('n3')).toMatchObject({ state: null, offer: 'approved', text: 'offers exit: approved used by n1' });
    expect(await consoleRow('n4')).toMatchObject({ state: null, offer: 'approved', text: 'offers exit: approved' });
    expect(await consoleRow('n2')).toEqual({ state: null, node: null, offer: null, text: '–' });
    // The tunnel n1 -> n3 is marked as the way n1's other traffic leaves; n1 -> n4 is not.
    await page.waitForSelector('#tunnels tr[data-src="n1"][data-dst="n3"][data-exit="true"]', { timeout: 30_000 });
    expect(await page.textContent('#tunnels tr[data-src="n1"][data-dst="n3"] .exit-mark')).toBe('exit node');
    expect(await page.$('#tunnels tr[data-src="n1"][data-dst="n4"][data-exit="true"]')).toBeNull();
    // The admin routes view (`trellis routes`) names n1 as n3's user.
    expect(await usedBy('n3')).toEqual([['n1'], ['n1']]);
    expect(await usedBy('n4')).toEqual([[], []]);
  }, 60_000);

  it('falls back to the second exit node when the first one dies', async () => {
    await lab!.killAgent('n3');
    const { ms } = await waitFor('n1 to fall back to n4', async () => (await exitStatus('n1'))?.inUse === 'n4', 15_000, 100);
    expect(ms).toBeLessThan(15_000);
    await waitFor('the server to see n4', async () => (await whoAmI('n1')) === underlay('n4'), 10_000, 200);
    expect((await requestsFrom('n1')).seen).toEqual([underlay('n4')]);
    expect((await exitStatus('n1'))?.problem).toMatch(/exit node n3 is offline/);
    expect(await exitMetrics('n1')).toEqual([
      'trellis_exit_node_fallback{n3} 1',
      'trellis_exit_node_in_use{n3,preferred} 0',
      'trellis_exit_node_in_use{n4,fallback} 1',
      'trellis_exit_node_switches_total{} 2',
    ]);
    const { value: switched } = await waitFor('the switch in the audit log', async () => {
      const audit = (await (await lab!.adminFetch(`${ROUTES.adminAudit}?limit=1000`)).json()) as AuditEvent[];
      const mine = audit.filter((e) => e.action === 'conn.exit.switched' && e.details?.name === 'n1');
      return mine.some((e) => e.details?.to === 'n4') ? mine : null;
    }, 10_000, 200);
    expect(switched.map((e) => [e.details?.from, e.details?.to])).toEqual(expect.arrayContaining([[null, 'n3'], ['n3', 'n4']]));
    expect(switched.find((e) => e.details?.to === 'n4')!.details?.reason).toMatch(/exit node n3 is offline/);
    // The console shows the fallback, and why, without a reload.
    await page!.waitForSelector('#nodes tr[data-node="n1"][data-exit-state="fallback"][data-exit-node="n4"]', { timeout: 15_000 });
    expect((await consoleRow('n1')).text).toMatch(/^via n4 \(fallback for n3\) ?exit node n3 is offline/);
    expect((await consoleRow('n4')).text).toBe('offers exit: approved used by n1');
    expect(await usedBy('n4')).toEqual([['n1'], ['n1']]);
  }, 40_000);

  it('returns to the chosen exit node only once it has been back for the hold-down (10 s)', async () => {
    const started = Date.now();
    await lab!.startAgent('n3');
    const { value: waiting } = await waitFor('n1 to see n3 back', async () => {
      const e = await exitStatus('n1');
      return e?.problem?.includes('exit node n3 is back; switching to it after the hold-down') ? e : null;
    }, 15_000, 100);
    expect(waiting.inUse).toBe('n4');
    await waitFor('n1 to return to n3', async () => (await exitStatus('n1'))?.inUse === 'n3', 25_000, 200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(10_000);
    expect((await exitStatus('n1'))?.problem).toBeNull();
    await waitFor('the server to see n3 again', async () => (await whoAmI('n1')) === underlay('n3'), 10_000, 200);
    expect(await exitMetrics('n1')).toContain('trellis_exit_node_fallback{n3} 0');
  }, 45_000);

  it('an exit node that does not exist is reported and traffic leaves directly', async () => {
    lab!.setAgentArgs('n2', ['--exit-node', 'n9']);
    await lab!.stopAgent('n2');
    await lab!.startAgent('n2');
    await waitFor('n2 to report the missing exit node', async () => (await exitStatus('n2'))?.problem?.includes('exit node n9 is not a peer') ?? false, 15_000, 100);
    expect((await exitStatus('n2'))?.inUse).toBeNull();
    expect(await whoAmI('n2')).toBe(underlay('n2'));
  }, 40_000);

  it('malformed exit flags are usage errors that name the flag, before anything starts', async () => {
    const up = (...flags: string[]) =>
      new Promise<{ code: number; stderr: string }>((done) => {
        execFile(
          process.execPath,
          [defaultCliPath(), 'up', '--controller', lab!.controllerUrl, '--name', 'bad', '--state-dir', '/nonexistent/trellis-bad', '--iface', 'trlbad0', ...flags],
          { timeout: 10_000 },
          (err, _stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
        );
      });
    const cases: Array<[string[], RegExp]> = [
      [['--exit-node', 'n3', '--exit-exclude', '192.0.2.1/24'], /--exit-exclude "192\.0\.2\.1\/24" has host bits set; the network is 192\.0\.2\.0\/24/],
      [['--exit-node', 'n3', '--exit-exclude', 'banana'], /--exit-exclude "banana" is not a CIDR such as 192\.0\.2\.0\/24/],
      [['--exit-node', 'n3', '--exit-exclude', '10.0.0.0/33'], /--exit-exclude "10\.0\.0\.0\/33" is not a CIDR/],
      [['--exit-node', 'n3', '--exit-exclude', '0.0.0.0/0'], /would exclude everything/],
      [['--exit-exclude', '192.0.2.0/24'], /--exit-exclude needs --exit-node/],
      [['--exit-node', 'n3', '--exit-node-fallback', 'n3'], /--exit-node-fallback n3 is the --exit-node itself/],
      [['--route-exclude', '10.20.0.7/24'], /--route-exclude "10\.20\.0\.7\/24" has host bits set/],
    ];
    for (const [flags, message] of cases) {
      const r = await up(...flags);
      expect({ flags, code: r.code }).toEqual({ flags, code: 2 });
      expect(r.stderr).toMatch(message);
    }
  }, 60_000);

  it('lab down removes the internet namespace with every node namespace', async () => {
    const namespaces = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('trl-'));
    expect(namespaces()).toContain('trl-inet');
    await browser?.close();
    browser = null;
    const down = lab!;
    lab = null;
    await down.down();
    expect(namespaces()).toEqual([]);
  }, 30_000);
});
