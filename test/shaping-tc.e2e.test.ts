/**
 * shaping-tc on real tc: two namespaces joined by a veth, shaping applied to the veth as if it
 * were the WireGuard interface. Rate accuracy is measured with iperf3.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metrics } from '@opentelemetry/api';
import type { NetworkMap, PluginLogger } from '@trellis/core/api';
import { createShapingTcPlugin, detectCapabilities, ExecRunner, RecordingRunner, type ShapingProfile } from '@trellis/plugin-shaping-tc';

jest.setTimeout(60_000);

const NS_A = 'trlt-shA';
const NS_B = 'trlt-shB';
const IF_A = 'trltshA0';
const IF_B = 'trltshB0';
const ADDR_A = '10.251.7.1';
const ADDR_B = '10.251.7.2';

const sh = (...argv: string[]) => execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const inNs = (ns: string, ...argv: string[]) => sh('ip', 'netns', 'exec', ns, ...argv);
const quiet = (...argv: string[]) => {
  try {
    sh(...argv);
  } catch {
    // already gone
  }
};

const logs: Array<{ level: string; obj: unknown; msg?: string }> = [];
const log: PluginLogger = {
  debug: (obj, msg) => void logs.push({ level: 'debug', obj, msg }),
  info: (obj, msg) => void logs.push({ level: 'info', obj, msg }),
  warn: (obj, msg) => void logs.push({ level: 'warn', obj, msg }),
  error: (obj, msg) => void logs.push({ level: 'error', obj, msg }),
};

function profile(): ShapingProfile {
  return {
    name: 'lab',
    linkRateMbit: 100,
    ingressRateMbit: 80,
    classes: {
      realtime: { rateMbit: 10, ceilMbit: 50, priority: 0, match: { ports: [{ proto: 'udp', from: 4000, to: 4007 }] } },
      critical: { rateMbit: 20, ceilMbit: 100, priority: 1, match: { ports: [{ proto: 'tcp', from: 22 }] } },
      default: { rateMbit: 40, ceilMbit: 100, priority: 2 },
      bulk: { rateMbit: 20, ceilMbit: 20, priority: 3, match: { ports: [{ proto: 'tcp', from: 5201 }] } },
    },
  };
}

function mapWith(p: unknown): NetworkMap {
  return {
    version: 1,
    epoch: 'e2e',
    self: { id: 'a', name: 'a', wgKey: 'k', addresses: { ipv4: ADDR_A, ipv6: 'fd00::1' }, endpoints: [], allowedIps: [], tags: [], user: null, online: true, lastSeen: null, expiresAt: null },
    peers: [],
    packetFilter: null,
    routes: [],
    extensions: p === undefined ? {} : { 'shaping-tc': { profile: p } },
    overlay: { ipv4Cidr: '10.251.7.0/30', ipv6Prefix: 'fd00::/64' },
  };
}

const runner = new RecordingRunner(new ExecRunner({ netns: NS_A }));
const plugin = createShapingTcPlugin({ runner });
const stateDir = mkdtempSync(join(tmpdir(), 'trlt-shaping-'));
const children: ChildProcess[] = [];

const classLines = () => inNs(NS_A, 'tc', 'class', 'show', 'dev', IF_A).trim().split('\n').map((l) => l.trim()).sort();

beforeAll(async () => {
  quiet('ip', 'netns', 'del', NS_A);
  quiet('ip', 'netns', 'del', NS_B);
  sh('ip', 'netns', 'add', NS_A);
  sh('ip', 'netns', 'add', NS_B);
  inNs(NS_A, 'ip', 'link', 'add', IF_A, 'type', 'veth', 'peer', 'name', IF_B, 'netns', NS_B);
  inNs(NS_A, 'ip', 'addr', 'add', `${ADDR_A}/30`, 'dev', IF_A);
  inNs(NS_B, 'ip', 'addr', 'add', `${ADDR_B}/30`, 'dev', IF_B);
  for (const [ns, dev] of [[NS_A, IF_A], [NS_B, IF_B], [NS_A, 'lo'], [NS_B, 'lo']]) inNs(ns, 'ip', 'link', 'set', dev, 'up');
  // A foreign qdisc on another device in the namespace: Trellis must never touch it.
  inNs(NS_B, 'tc', 'qdisc', 'add', 'dev', IF_B, 'root', 'handle', '5:', 'tbf', 'rate', '500mbit', 'burst', '256kb', 'latency', '50ms');
  await plugin.setup!({
    side: 'agent',
    log,
    meter: metrics.getMeter('shaping-tc-e2e'),
    config: { profiles: {}, assign: [], statsIntervalMs: 60_000 },
    agent: { nodeName: 'a', iface: IF_A, stateDir, requestFactsRefresh: () => undefined },
  });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  try {
    await plugin.shutdown?.();
  } finally {
    quiet('ip', 'netns', 'del', NS_A);
    quiet('ip', 'netns', 'del', NS_B);
    rmSync(stateDir, { recursive: true, force: true });
  }
});

describe('shaping-tc on real tc', () => {
  it('detects what this kernel has', async () => {
    const caps = await detectCapabilities(new ExecRunner({ netns: NS_A }));
    expect(caps).toMatchObject({ htb: true, u32: true, ifb: true, mirred: true, ingress: true, netem: false, fq_codel: false, sfq: false, police: false });
    expect(inNs(NS_A, 'ip', '-o', 'link').split('\n').filter((l) => l.includes('trcap'))).toEqual([]);
    expect(logs.some((l) => l.level === 'warn' && String(l.obj).includes('no fq_codel or sfq'))).toBe(true);
  });

  it('applies a profile: HTB tree, filters, ingress redirect to an ifb', async () => {
    await plugin.onNetworkMap!(mapWith(profile()));
    expect(inNs(NS_A, 'tc', 'qdisc', 'show', 'dev', IF_A)).toMatch(/qdisc htb 1: root .*default 0x30/);
    expect(classLines()).toEqual([
      expect.stringMatching(/^class htb 1:1 root rate 100Mbit ceil 100Mbit /),
      expect.stringMatching(/^class htb 1:10 parent 1:1 prio 0 rate 10Mbit ceil 50Mbit /),
      expect.stringMatching(/^class htb 1:20 parent 1:1 prio 1 rate 20Mbit ceil 100Mbit /),
      expect.stringMatching(/^class htb 1:30 parent 1:1 prio 2 rate 40Mbit ceil 100Mbit /),
      expect.stringMatching(/^class htb 1:40 parent 1:1 prio 3 rate 20Mbit ceil 20Mbit /),
    ]);
    const filters = inNs(NS_A, 'tc', 'filter', 'show', 'dev', IF_A);
    expect(filters.match(/\*flowid 1:10/g)).toHaveLength(4); // EF, CS4, CS5 + one aligned block 4000-4007
    expect(filters.match(/\*flowid 1:40/g)).toHaveLength(1);
    expect(inNs(NS_A, 'tc', 'filter', 'show', 'dev', IF_A, 'parent', 'ffff:')).toContain('Redirect to device ifb-trltshA0');
    expect(inNs(NS_A, 'tc', 'class', 'show', 'dev', 'ifb-trltshA0')).toContain('class htb 1:1 root rate 80Mbit ceil 80Mbit');
  });

  it('re-applying the same profile runs no mutating command', async () => {
    runner.clear();
    await plugin.onNetworkMap!(mapWith(profile()));
    expect(runner.commands.length).toBeGreaterThan(0);
    expect(runner.mutating()).toEqual([]);
  });

  it('a bad profile is refused with a clear error and the classes in force stay', async () => {
    const before = classLines();
    const bad = profile();
    bad.classes.bulk.ceilMbit = 500;
    runner.clear();
    logs.length = 0;
    await plugin.onNetworkMap!(mapWith(bad));
    expect(runner.commands).toEqual([]);
    expect(logs.find((l) => l.level === 'error')?.msg).toContain('class "bulk": ceiling 500 Mbit is above the link rate 100 Mbit');
    expect(classLines()).toEqual(before);
  });

  it('a class rate change modifies only that class', async () => {
    const before = classLines();
    const p = profile();
    p.classes.critical.rateMbit = 25;
    runner.clear();
    await plugin.onNetworkMap!(mapWith(p));
    // One change on the interface, and the same class's mirror on the ifb (ingress rates scale with it).
    expect(runner.mutating()).toEqual([
      ['tc', 'class', 'change', 'dev', IF_A, 'parent', '1:1', 'classid', '1:20', 'htb', 'rate', '25000kbit', 'ceil', '100000kbit', 'burst', '3125b', 'cburst', '12500b', 'prio', '1'],
      ['tc', 'class', 'change', 'dev', 'ifb-trltshA0', 'parent', '1:1', 'classid', '1:20', 'htb', 'rate', '20000kbit', 'ceil', '80000kbit', 'burst', '2500b', 'cburst', '10000b', 'prio', '1'],
    ]);
    const after = classLines();
    expect(after.filter((l) => !before.includes(l))).toEqual([expect.stringMatching(/^class htb 1:20 .* rate 25Mbit ceil 100Mbit /)]);
    await plugin.onNetworkMap!(mapWith(profile()));
  });

  it('delivers a class shaped to 20 Mbit within ±5 % (iperf3, 5 s)', async () => {
    const server = spawn('ip', ['netns', 'exec', NS_B, 'iperf3', '-s', '-1', '-B', ADDR_B, '-p', '5201'], { stdio: 'ignore' });
    children.push(server);
    await new Promise((r) => setTimeout(r, 500));
    const out = JSON.parse(inNs(NS_A, 'iperf3', '-c', ADDR_B, '-p', '5201', '-t', '5', '-O', '1', '-J')) as {
      end: { sum_received: { bits_per_second: number } };
      start: { tcp_mss_default?: number };
    };
    const goodput = out.end.sum_received.bits_per_second / 1e6;
    // HTB counts whole frames; iperf3 counts TCP payload. Add the per-segment headers back
    // (14 Ethernet + 20 IP + 32 TCP with timestamps) to compare like with like.
    const mss = out.start.tcp_mss_default ?? 1448;
    const wire = (goodput * (mss + 66)) / mss;
    const stats = await plugin.shaper()!.sampleStats();
    const bulk = stats.find((s) => s.direction === 'egress' && s.label === 'bulk');
    // eslint-disable-next-line no-console
    console.log(`iperf3 through the 20 Mbit bulk class: goodput ${goodput.toFixed(2)} Mbit/s, on the wire ${wire.toFixed(2)} Mbit/s; class stats ${JSON.stringify(bulk)}`);
    expect(wire).toBeGreaterThanOrEqual(19);
    expect(wire).toBeLessThanOrEqual(21);
    expect(bulk!.bytes).toBeGreaterThan(5 * 1e6);
    expect(plugin.classStats()).toBe(stats);
  });

  it('cleanup leaves only the default qdisc, removes the ifb, and leaves foreign qdiscs alone', async () => {
    await plugin.onNetworkMap!(mapWith(undefined));
    expect(inNs(NS_A, 'tc', 'qdisc', 'show', 'dev', IF_A).trim()).toBe('qdisc noqueue 0: root refcnt 2');
    expect(inNs(NS_A, 'ip', '-o', 'link').includes('ifb-trltshA0')).toBe(false);
    expect(inNs(NS_B, 'tc', 'qdisc', 'show', 'dev', IF_B)).toMatch(/qdisc tbf 5: root/);
    runner.clear();
    await plugin.shutdown!();
    expect(runner.mutating()).toEqual([]);
  });
});
