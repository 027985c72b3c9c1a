import pino from 'pino';
import type { NetworkMap, NetworkMapData, PeerNode } from '../netmap/types';
import { noHooks, type HookRunner } from '../plugins/hook-runner';
import type { ReconfigureResult, WgConfig, WgDevice, WgPeerStats } from '../wg/types';
import { diffWgConfig } from '../wg/config-diff';
import { DEFAULT_PREFS } from './prefs';
import { ExitChoice } from './exit-choice';
import { Reconfigurer } from './reconfigurer';
import type { ProbeTarget } from './probes/probe-scheduler';
import { fakeKey as key, fakePeer as peer } from './testing/peer-fixture';

const log = pino({ level: 'silent' });

function mapV(version: number, peers: PeerNode[], routes: NetworkMapData['routes'] = []): NetworkMap {
  return {
    version,
    epoch: 'e1',
    self: { ...peer('a', 1), expiresAt: null },
    peers,
    packetFilter: null,
    routes,
    extensions: {},
    overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' },
  };
}

/** A WgDevice whose reconfigure takes delayMs and records every call and the peak concurrency. */
class SlowDevice implements WgDevice {
  readonly name = 'tr-test0';
  calls: Array<{ next: WgConfig; prev: WgConfig | null }> = [];
  active = 0;
  maxActive = 0;
  failNext = false;
  constructor(private readonly delayMs: number) {}
  async up() {}
  async down() {}
  async stats(): Promise<WgPeerStats[]> {
    return [];
  }
  async reconfigure(next: WgConfig, prev: WgConfig | null): Promise<ReconfigureResult> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    this.calls.push({ next, prev });
    await new Promise((r) => setTimeout(r, this.delayMs));
    this.active--;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('uapi write failed');
    }
    return { summary: 'ok', added: next.peers.length, updated: 0, removed: 0, changed: true };
  }
}

function fakeLink() {
  const calls: Array<[string, string, string[]]> = [];
  return {
    calls,
    syncAddresses: async (iface: string, cidrs: string[]) => void calls.push(['addr', iface, cidrs]),
    syncRoutes: async (iface: string, prefixes: string[]) => void calls.push(['route', iface, prefixes]),
  };
}

describe('Reconfigurer', () => {
  it('coalesces: 5 maps scheduled during one apply make exactly 2 applies, the second with the newest, never concurrent', async () => {
    const device = new SlowDevice(40);
    const link = fakeLink();
    const probed: ProbeTarget[][] = [];
    const seenByHook: number[] = [];
    const hooks: HookRunner = {
      ...noHooks,
      runParallel: (async (_hook: string, map: NetworkMap) => {
        seenByHook.push(map.version);
        return [];
      }) as HookRunner['runParallel'],
    };
    const r = new Reconfigurer({
      device,
      hooks,
      link,
      privateKey: key('P'),
      listenPort: 51820,
      prefs: DEFAULT_PREFS,
      log,
      probes: () => ({ setPeers: (p) => void probed.push(p) }),
    });
    const make = (v: number) => mapV(v, Array.from({ length: v }, (_, i) => peer(`p${i}`, i + 10)));
    const first = r.schedule(make(1));
    while (device.active === 0) await new Promise((res) => setTimeout(res, 1));
    // Five maps arrive while the first apply is still writing the device.
    const during = [2, 3, 4, 5, 6].map((v) => r.schedule(make(v)));
    await Promise.all([first, ...during]);
    expect(device.calls).toHaveLength(2);
    expect(device.maxActive).toBe(1);
    expect(device.calls[0].next.peers).toHaveLength(1);
    expect(device.calls[1].next.peers).toHaveLength(6);
    // The second apply diffs against what the first one wrote.
    expect(device.calls[1].prev).toBe(device.calls[0].next);
    expect(seenByHook).toEqual([1, 6]);
    expect(probed.map((p) => p.length)).toEqual([1, 6]);
    expect(probed[1][0]).toEqual({ id: 'p0', name: 'node-p0', address: '100.64.0.10' });
    // Addresses and routes were written once: they did not change between the two maps.
    expect(link.calls).toEqual([
      ['addr', 'tr-test0', ['100.64.0.1/32', 'fd7a:7e11:5000::1/128']],
      ['route', 'tr-test0', ['100.64.0.0/10', 'fd7a:7e11:5000::/48']],
    ]);
    expect(r.applies).toBe(2);
    expect(r.lastDurationMs).toBeGreaterThanOrEqual(30);
  });

  it('syncs routes again only when accepted routes change', async () => {
    const device = new SlowDevice(0);
    const link = fakeLink();
    const r = new Reconfigurer({ device, hooks: noHooks, link, privateKey: key('P'), listenPort: 1, prefs: DEFAULT_PREFS, log });
    await r.schedule(mapV(1, [peer('b', 2)]));
    await r.schedule(mapV(2, [peer('b', 2)], [{ prefix: '10.20.0.0/16', via: 'b' }]));
    expect(link.calls.filter((c) => c[0] === 'route').map((c) => c[2])).toEqual([
      ['100.64.0.0/10', 'fd7a:7e11:5000::/48'],
      ['100.64.0.0/10', 'fd7a:7e11:5000::/48', '10.20.0.0/16'],
    ]);
  });

  it('applies the map even when every plugin hook fails, and uses a transformed config when one works', async () => {
    const device = new SlowDevice(0);
    const throwing: HookRunner = {
      runFirst: async () => {
        throw new Error('boom');
      },
      runSequential: async () => {
        throw new Error('transform boom');
      },
      runParallel: async () => {
        throw new Error('onNetworkMap boom');
      },
      runParallelNamed: async () => {
        throw new Error('statusSection boom');
      },
      runParallelEach: async () => {
        throw new Error('mapExtension boom');
      },
      has: () => true,
    };
    const applied: number[] = [];
    const r = new Reconfigurer({
      device,
      hooks: throwing,
      link: fakeLink(),
      privateKey: key('P'),
      listenPort: 1,
      prefs: DEFAULT_PREFS,
      log,
      onApplied: (i) => applied.push(i.map.version),
    });
    await r.schedule(mapV(1, [peer('b', 2)]));
    expect(device.calls).toHaveLength(1);
    expect(device.calls[0].next.peers.map((p) => p.publicKey)).toEqual([key('B')]);
    expect(applied).toEqual([1]);
    expect(r.lastError).toBeNull();

    const transforming: HookRunner = {
      ...noHooks,
      runSequential: (async (_h: string, cfg: WgConfig) => ({ ...cfg, peers: cfg.peers.map((p) => ({ ...p, persistentKeepalive: 5 })) })) as HookRunner['runSequential'],
    };
    const d2 = new SlowDevice(0);
    const r2 = new Reconfigurer({ device: d2, hooks: transforming, link: fakeLink(), privateKey: key('P'), listenPort: 1, prefs: DEFAULT_PREFS, log });
    await r2.schedule(mapV(1, [peer('b', 2)]));
    expect(d2.calls[0].next.peers[0].persistentKeepalive).toBe(5);
  });

  it('keeps the last good state when the device fails, and re-reads the device on the next apply', async () => {
    const device = new SlowDevice(0);
    const applied: number[] = [];
    const r = new Reconfigurer({
      device,
      hooks: noHooks,
      link: fakeLink(),
      privateKey: key('P'),
      listenPort: 1,
      prefs: DEFAULT_PREFS,
      log,
      onApplied: (i) => applied.push(i.map.version),
    });
    await r.schedule(mapV(1, [peer('b', 2)]));
    const good = r.lastWritten;
    device.failNext = true;
    await r.schedule(mapV(2, [peer('c', 3)]));
    expect(applied).toEqual([1]);
    expect(r.lastError).toContain('uapi write failed');
    await r.schedule(mapV(3, [peer('c', 3)]));
    expect(device.calls[1].prev).toBe(good);
    expect(device.calls[2].prev).toBeNull();
    expect(applied).toEqual([1, 3]);
  });

  it('clearPeers removes every peer through the same loop', async () => {
    const device = new SlowDevice(10);
    const r = new Reconfigurer({ device, hooks: noHooks, link: fakeLink(), privateKey: key('P'), listenPort: 1, prefs: DEFAULT_PREFS, log });
    void r.schedule(mapV(1, [peer('b', 2)]));
    await r.clearPeers();
    expect(device.maxActive).toBe(1);
    expect(device.calls.at(-1)!.next.peers).toEqual([]);
  });

  it('setPrivateKey rewrites the key with the same peers through the same loop, and says whether the device took it', async () => {
    const device = new SlowDevice(10);
    const r = new Reconfigurer({ device, hooks: noHooks, link: fakeLink(), privateKey: key('P'), listenPort: 1, prefs: DEFAULT_PREFS, log });
    await r.schedule(mapV(1, [peer('b', 2)]));
    const peers = device.calls[0].next.peers;
    expect(await r.setPrivateKey(key('Q'))).toBe(true);
    expect(device.calls).toHaveLength(2);
    expect(device.calls[1].next).toEqual({ privateKey: key('Q'), listenPort: 1, peers });
    expect(device.calls[1].prev?.privateKey).toBe(key('P'));
    // Later maps keep the new key.
    await r.schedule(mapV(2, [peer('b', 2), peer('c', 3)]));
    expect(device.calls[2].next.privateKey).toBe(key('Q'));
    device.failNext = true;
    expect(await r.setPrivateKey(key('R'))).toBe(false);
    expect(r.lastWritten).toBeNull();
  });

  it('a key change never replaces a newer waiting map: the map is written with the new key', async () => {
    const device = new SlowDevice(30);
    const r = new Reconfigurer({ device, hooks: noHooks, link: fakeLink(), privateKey: key('P'), listenPort: 1, prefs: DEFAULT_PREFS, log });
    void r.schedule(mapV(1, [peer('b', 2)]));
    await new Promise((res) => setTimeout(res, 5)); // map 1 is being written
    void r.schedule(mapV(2, [peer('b', 2), peer('c', 3)]));
    expect(await r.setPrivateKey(key('Q'))).toBe(true);
    expect(device.calls.map((c) => [c.next.privateKey, c.next.peers.length])).toEqual([
      [key('P'), 1],
      [key('Q'), 2],
    ]);
  });

  it('setPrivateKey before any map writes the key alone', async () => {
    const device = new SlowDevice(1);
    const r = new Reconfigurer({ device, hooks: noHooks, link: fakeLink(), privateKey: key('P'), listenPort: 7, prefs: DEFAULT_PREFS, log });
    expect(await r.setPrivateKey(key('Q'))).toBe(true);
    expect(device.calls.map((c) => c.next)).toEqual([{ privateKey: key('Q'), listenPort: 7, peers: [] }]);
  });

  it('applyPaths writes only the chosen endpoints, and restarts a session moved onto a relay in one more write', async () => {
    const device = new SlowDevice(0);
    const overrides = new Map<string, string>();
    let maps = 0;
    const r = new Reconfigurer({
      device,
      hooks: noHooks,
      link: fakeLink(),
      privateKey: key('P'),
      listenPort: 51820,
      prefs: DEFAULT_PREFS,
      log,
      endpointOverrides: () => overrides,
      onApplied: () => void maps++,
    });
    const b = peer('b', 2);
    const c = peer('c', 3);
    await r.schedule(mapV(1, [b, c]));
    expect(device.calls).toHaveLength(1);
    expect(device.calls[0]!.next.peers.map((p) => p.endpoint)).toEqual(['198.18.0.2:51820', '198.18.0.3:51820']);
    // The path choice moves b onto a relay: b is written without, then with the relay endpoint.
    overrides.set(b.wgKey, '198.18.0.9:51821');
    await r.applyPaths([b.wgKey]);
    expect(device.calls).toHaveLength(3);
    expect(device.calls[1]!.next.peers.map((p) => p.publicKey)).toEqual([c.wgKey]);
    expect(device.calls[2]!.next.peers.find((p) => p.publicKey === b.wgKey)!.endpoint).toBe('198.18.0.9:51821');
    expect(device.calls[2]!.next.peers.find((p) => p.publicKey === c.wgKey)!.endpoint).toBe('198.18.0.3:51820');
    expect(device.calls[2]!.prev).toBe(device.calls[1]!.next);
    // A path change is not a map: no onApplied, no hooks.
    expect(maps).toBe(1);
    // Back to direct: one write, the session stays.
    overrides.set(b.wgKey, '198.18.0.2:51820');
    await r.applyPaths();
    expect(device.calls).toHaveLength(4);
    expect(device.calls[3]!.next.peers.map((p) => p.publicKey).sort()).toEqual([b.wgKey, c.wgKey].sort());
    // A later map keeps the chosen endpoint instead of the map's first one.
    overrides.set(b.wgKey, '198.18.0.9:51821');
    await r.schedule(mapV(2, [b, c]));
    expect(device.calls.at(-1)!.next.peers.find((p) => p.publicKey === b.wgKey)!.endpoint).toBe('198.18.0.9:51821');
  });

  it('reassertEndpoints writes the chosen endpoint over one the device drifted to (endpoint= only), where applyPaths alone would write nothing', async () => {
    const device = new SlowDevice(0);
    const overrides = new Map<string, string>();
    const r = new Reconfigurer({ device, hooks: noHooks, link: fakeLink(), privateKey: key('P'), listenPort: 51820, prefs: DEFAULT_PREFS, log, endpointOverrides: () => overrides });
    const b = peer('b', 2);
    const c = peer('c', 3);
    await r.schedule(mapV(1, [b, c]));
    // Against what was written, writing the same paths again is no change at all: the drift stays.
    await r.applyPaths();
    expect(diffWgConfig(device.calls.at(-1)!.prev!, device.calls.at(-1)!.next)).toEqual({ add: [], update: [], remove: [] });
    // WireGuard roamed b onto a relay behind the loop's back; the device says so.
    await r.reassertEndpoints(new Map([[b.wgKey, '198.18.0.9:51821']]));
    const last = device.calls.at(-1)!;
    const d = diffWgConfig(last.prev!, last.next);
    expect(d).toEqual({ add: [], update: [{ publicKey: b.wgKey, endpoint: '198.18.0.2:51820' }], remove: [] });
    expect(last.prev!.peers.find((p) => p.publicKey === b.wgKey)!.endpoint).toBe('198.18.0.9:51821');
    // And the next write diffs against the corrected state again: nothing to do.
    await r.applyPaths();
    expect(diffWgConfig(device.calls.at(-1)!.prev!, device.calls.at(-1)!.next)).toEqual({ add: [], update: [], remove: [] });
  });
});

describe('Reconfigurer with an exit node', () => {
  it('installs policy routing for the exit node in use, moves the default routes to the fallback when it goes offline, and counts the switch', async () => {
    const device = new SlowDevice(0);
    const exitCalls: Array<{ table: number; fwmark: number; exclude: string[] } | null> = [];
    const link = { ...fakeLink(), syncExitRouting: async (_iface: string, spec: (typeof exitCalls)[number]) => void exitCalls.push(spec) };
    const prefs = { ...DEFAULT_PREFS, exitNode: 'node-c', exitNodeFallback: 'node-d', exclude: ['198.51.100.0/24'] };
    const switches: Array<[string | null, string | null, string | null]> = [];
    const r = new Reconfigurer({
      device, hooks: noHooks, link, privateKey: key('P'), listenPort: 51820, prefs, log,
      exit: new ExitChoice({ exitNode: 'node-c', exitNodeFallback: 'node-d' }),
      onExitSwitch: (e) => void switches.push([e.from?.name ?? null, e.to?.name ?? null, e.problem]),
    });
    const exits = ['c', 'd'].flatMap((via) => [{ prefix: '0.0.0.0/0', via, kind: 'exit' as const }, { prefix: '::/0', via, kind: 'exit' as const }]);
    const defaults = (cfg: WgConfig, id: string) => cfg.peers.find((p) => p.publicKey === key(id.toUpperCase()))!.allowedIps.includes('0.0.0.0/0');

    await r.schedule(mapV(1, [peer('b', 2), peer('c', 3), peer('d', 4)], exits));
    let cfg = device.calls.at(-1)!.next;
    expect(cfg.fwmark).toBe(51820);
    expect([defaults(cfg, 'b'), defaults(cfg, 'c'), defaults(cfg, 'd')]).toEqual([false, true, false]);
    expect(exitCalls).toEqual([{ table: 51820, fwmark: 51820, exclude: ['198.51.100.0/24'] }]);
    expect(r.exit).toEqual({ current: { id: 'c', name: 'node-c' }, problem: null });
    expect(r.exitSwitches).toBe(0);

    await r.schedule(mapV(2, [peer('b', 2), { ...peer('c', 3), online: false }, peer('d', 4)], exits));
    cfg = device.calls.at(-1)!.next;
    expect([defaults(cfg, 'c'), defaults(cfg, 'd')]).toEqual([false, true]);
    expect(r.exit).toEqual({ current: { id: 'd', name: 'node-d' }, problem: 'exit node node-c is offline' });
    expect(r.exitSwitches).toBe(1);
    // Same table and exclusions: the policy routing is not rewritten, only the peer's allowed IPs.
    expect(exitCalls).toHaveLength(1);

    // Neither exit node offered any more: the policy routing goes, traffic leaves locally.
    await r.schedule(mapV(3, [peer('b', 2), peer('c', 3), peer('d', 4)], []));
    expect(exitCalls.at(-1)).toBeNull();
    expect(r.exit?.current).toBeNull();
    expect(r.exitSwitches).toBe(2);
    await r.removeExitRouting();
    expect(exitCalls.at(-1)).toBeNull();
    expect(switches).toEqual([
      ['node-c', 'node-d', 'exit node node-c is offline'],
      ['node-d', null, expect.stringContaining('exit node node-c does not offer an approved exit route')],
    ]);
  });
});
