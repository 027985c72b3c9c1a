import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metrics } from '@opentelemetry/api';
import { TrellisMetrics } from '@trellis/core';
import type { NetworkMap, PluginContext, PluginLogger, StatusTextSource } from '@trellis/core/api';
import type { CommandRunner } from './command-runner';
import { createShapingTcPlugin, LAST_GOOD_FILE, renderShapingSection, type ShapingStatus, type ShapingTcPluginConfig } from './index';
import { officeProfile } from './test-profiles';

const fx = (name: string) => readFileSync(join(__dirname, 'fixtures', 'office-applied', name), 'utf8');
const log: PluginLogger & { errors: string[] } = Object.assign(
  { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (_o: object | string, msg?: string) => void log.errors.push(msg ?? '') },
  { errors: [] as string[] },
);

/** A kernel boundary fake: every mutating command succeeds; reads answer with recorded iproute2 6.1 output. */
class FakeTc implements CommandRunner {
  readonly ran: string[] = [];
  async run(argv: readonly string[]): Promise<string> {
    const cmd = argv.join(' ');
    this.ran.push(cmd);
    if (cmd.startsWith('tc -j -s class show')) return fx('class-stats.txt');
    if (cmd.startsWith('ip -j link show')) return '[]';
    return '';
  }
}

function map(name: string, profile: unknown): NetworkMap {
  return {
    version: 1,
    epoch: 'unit',
    self: { id: 'id-' + name, name, wgKey: 'k', addresses: { ipv4: '100.64.0.1', ipv6: 'fd00::1' }, endpoints: [], allowedIps: [], tags: [], user: null, online: true, lastSeen: null, expiresAt: null },
    peers: [],
    packetFilter: null,
    routes: [],
    extensions: profile === undefined ? {} : { 'shaping-tc': { profile } },
    overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd00::/64' },
  };
}

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'trlt-shaping-hooks-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function ctx(side: 'agent' | 'controller', config: ShapingTcPluginConfig, dir: string, audit: unknown[] = []): PluginContext<ShapingTcPluginConfig> {
  return {
    side,
    log,
    meter: metrics.getMeter('test'),
    config,
    agent: side === 'agent' ? { nodeName: 'n1', iface: 'trlwg1', stateDir: dir, requestFactsRefresh: () => undefined } : undefined,
    controller:
      side === 'controller' ? { dataDir: dir, requestMapRebuild: () => undefined, audit: (e) => void audit.push(e) } : undefined,
  };
}

describe('shaping-tc agent hooks', () => {
  it('statusSection joins the classes in force with their counters; collectTelemetry returns shaping rows', async () => {
    const plugin = createShapingTcPlugin({ runner: new FakeTc() });
    await plugin.setup!(ctx('agent', { profiles: {}, assign: [] }, tmp()));
    expect(await plugin.statusSection!()).toBeNull();
    await plugin.onNetworkMap!(map('n1', officeProfile()));

    const status = (await plugin.statusSection!()) as { profile: string; iface: string; classes: Array<Record<string, unknown>> };
    expect(status.profile).toBe('office');
    expect(status.iface).toBe('trlwg1');
    expect(status.classes.find((c) => c.label === 'realtime' && c.direction === 'egress')).toMatchObject({
      classid: '1:10',
      rateKbit: 20000,
      ceilKbit: 50000,
      prio: 0,
      bytes: 294,
      packets: 3,
      drops: 0,
    });

    const { rows: shaping } = await plugin.collectTelemetry!();
    const rt = shaping!.find((r) => r.class === 'realtime' && r.direction === 'egress');
    expect(rt).toMatchObject({ node: 'n1', iface: 'trlwg1', bytes: 294, packets: 3, drops: 0, overlimits: 0, backlog: 0 });
    expect(rt!.ts).toBeGreaterThan(0);
    await plugin.shutdown!();
  });
});

describe('shaping-tc status text', () => {
  it('registers its part of `trellis status`: nothing until shaped, then the classes after the peer table', async () => {
    const plugin = createShapingTcPlugin({ runner: new FakeTc() });
    const sources: StatusTextSource[] = [];
    const c = ctx('agent', { profiles: {}, assign: [] }, tmp());
    await plugin.setup!({ ...c, agent: { ...c.agent!, registerStatusText: (s) => void sources.push(s) } });
    expect(sources).toHaveLength(1);
    expect(await sources[0]!({ posture: null })).toBeNull();
    await plugin.onNetworkMap!(map('n1', officeProfile()));
    const text = await sources[0]!({ posture: null });
    expect(text).toEqual({ place: 'end', text: renderShapingSection((await plugin.statusSection!()) as ShapingStatus) });
    expect(text!.text).toContain('shaping     profile office on trlwg1');
    await plugin.shutdown!();
  });
});

describe('shaping-tc metrics', () => {
  it('observes each class\'s tc counters as trellis_shaping_* instruments, and nothing once stopped', async () => {
    const m = new TrellisMetrics('agent', { node: 'n1' });
    const plugin = createShapingTcPlugin({ runner: new FakeTc() });
    await plugin.setup!({ ...ctx('agent', { profiles: {}, assign: [] }, tmp()), meter: m.meter('trellis.plugin.shaping-tc') });
    await plugin.onNetworkMap!(map('n1', officeProfile()));
    const collect = async () => {
      const { resourceMetrics } = await m.collect();
      return new Map(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((x) => [x.descriptor.name, x]));
    };
    try {
      const got = await collect();
      const point = (name: string) =>
        got.get(name)!.dataPoints.find((d) => d.attributes.class === 'realtime' && d.attributes.direction === 'egress' && d.attributes.iface === 'trlwg1');
      expect(point('trellis_shaping_sent_bytes_total')?.value).toBe(294);
      expect(point('trellis_shaping_sent_packets_total')?.value).toBe(3);
      expect(point('trellis_shaping_dropped_packets_total')?.value).toBe(0);
      expect(point('trellis_shaping_overlimits_total')?.value).toBe(0);
      expect(point('trellis_shaping_backlog_bytes')?.value).toBe(0);
      expect(got.get('trellis_shaping_dropped_packets_total')!.descriptor.description).toMatch(/dropped/);
      await plugin.shutdown!();
      expect((await collect()).get('trellis_shaping_backlog_bytes')?.dataPoints ?? []).toEqual([]);
    } finally {
      await m.shutdown();
    }
  });
});

describe('shaping-tc controller config', () => {
  const good = (): ShapingTcPluginConfig => ({ profiles: { office: officeProfile() }, assign: [{ node: 'n1', profile: 'office' }] });
  const bad = (): ShapingTcPluginConfig => {
    const c = good();
    c.profiles.office.classes.bulk.rateMbit = 90; // above its 80 Mbit ceiling
    return c;
  };
  const assigned = async (p: ReturnType<typeof createShapingTcPlugin>) =>
    ((await p.mapExtension!({ id: 'id-n1', name: 'n1', user: null, groups: [], tags: [], addresses: { ipv4: '100.64.0.1', ipv6: 'fd00::1' }, posture: null, approved: true })) as { profile: { classes: { bulk: { rateMbit: number } } } }).profile;

  it('refuses a bad config and keeps the last good one in force, audited', async () => {
    const dir = tmp();
    const first = createShapingTcPlugin();
    await first.setup!(ctx('controller', good(), dir));
    expect(JSON.parse(readFileSync(join(dir, LAST_GOOD_FILE), 'utf8')).profiles.office.name).toBe('office');

    const audit: unknown[] = [];
    const second = createShapingTcPlugin();
    await second.setup!(ctx('controller', bad(), dir, audit));
    expect((await assigned(second)).classes.bulk.rateMbit).toBe(10);
    expect(log.errors.some((m) => m.includes('rate 90 Mbit is above its ceiling 80 Mbit') && m.includes('last good'))).toBe(true);
    expect(audit).toEqual([expect.objectContaining({ action: 'shaping.config.refused' })]);
  });

  it('with no good config before, a bad one disables the plugin with the problems named', async () => {
    await expect(createShapingTcPlugin().setup!(ctx('controller', bad(), tmp()))).rejects.toMatchObject({
      code: 'TRELLIS_ERR_SHAPING_CONFIG_INVALID',
      message: expect.stringContaining('rate 90 Mbit is above its ceiling 80 Mbit'),
    });
  });
});
