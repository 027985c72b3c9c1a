import pino from 'pino';
import type { NetworkMap, PeerNode } from '../netmap/types';
import type { RelayProcessOptions } from '../wg/relay-process';
import type { RelayConfig, RelayInfo } from '../wg/relay-control';
import { NodeRelay, relayAllowList, relayMesh, type RunningRelay } from './node-relay';
import { fakeKey as key, fakePeer as peer } from './testing/peer-fixture';

const log = pino({ level: 'silent' });

function mapOf(relayPort: number | null, peers: PeerNode[]): NetworkMap {
  return {
    version: 1,
    epoch: 'e1',
    self: { ...peer('r', 9), relay: relayPort === null ? null : { port: relayPort }, expiresAt: null },
    peers,
    packetFilter: null,
    routes: [],
    extensions: {},
    overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' },
  };
}

/** FakeRelay stands in for the trellis-wg relay process: it records configurations and can refuse one. */
class FakeRelay implements RunningRelay {
  running = true;
  configs: RelayConfig[] = [];
  refuse: string | null = null;
  constructor(readonly opts: RelayProcessOptions) {}
  readonly control = {
    configure: async (c: RelayConfig) => {
      if (this.refuse) throw new Error(this.refuse);
      this.configs.push(c);
    },
    info: async () => ({ meshNodes: this.configs.at(-1)?.mesh?.length ?? 0 }) as RelayInfo,
  };
  async stop(): Promise<void> {
    this.running = false;
  }
}

function setup(unavailable: string | null = null) {
  const started: FakeRelay[] = [];
  const relay = new NodeRelay({
    controlSocket: '/var/run/wireguard/trltest.relay.ctl',
    log,
    unavailable: () => unavailable,
    start: async (opts) => {
      const r = new FakeRelay(opts);
      started.push(r);
      return r;
    },
  });
  return { relay, started };
}

describe('relayMesh', () => {
  it("is the map peers' keys, sorted, never the relay itself", () => {
    const m = mapOf(3479, [peer('c', 3), peer('a', 1), peer('b', 2), { ...peer('r', 9) }]);
    expect(relayMesh(m)).toEqual([key('A'), key('B'), key('C')]);
    expect(relayMesh(mapOf(3479, []))).toEqual([]);
  });
});

describe('NodeRelay', () => {
  it('starts the relay on the offered port with the node key and the pairs, and configures again only on a change', async () => {
    const { relay, started } = setup();
    await relay.sync(mapOf(3479, [peer('a', 1), peer('b', 2)]), 'priv1');
    expect(started).toHaveLength(1);
    expect(started[0]!.opts).toMatchObject({ port: 3479, controlSocket: '/var/run/wireguard/trltest.relay.ctl' });
    expect(started[0]!.configs).toEqual([{ privateKey: 'priv1', mesh: [key('A'), key('B')] }]);
    await relay.sync(mapOf(3479, [peer('b', 2), peer('a', 1)]), 'priv1');
    expect(started[0]!.configs).toHaveLength(1);
    // A new peer: only the mesh is sent again. A rotated key: the key too.
    await relay.sync(mapOf(3479, [peer('a', 1), peer('b', 2), peer('c', 3)]), 'priv1');
    expect(started[0]!.configs[1]).toEqual({ mesh: [key('A'), key('B'), key('C')] });
    await relay.sync(mapOf(3479, [peer('a', 1), peer('b', 2), peer('c', 3)]), 'priv2');
    expect(started[0]!.configs[2]).toMatchObject({ privateKey: 'priv2' });
    expect(relay.status()).toEqual({ port: 3479, running: true, pairs: 3, error: null });
  });

  it('moves to a new port, stops when the offer goes, and restarts a relay that died', async () => {
    const { relay, started } = setup();
    await relay.sync(mapOf(3479, [peer('a', 1), peer('b', 2)]), 'k');
    await relay.sync(mapOf(3480, [peer('a', 1), peer('b', 2)]), 'k');
    expect(started.map((r) => [r.opts.port, r.running])).toEqual([
      [3479, false],
      [3480, true],
    ]);
    expect(started[1]!.configs[0]).toMatchObject({ privateKey: 'k' });
    started[1]!.running = false; // killed
    await relay.sync(mapOf(3480, [peer('a', 1), peer('b', 2)]), 'k');
    expect(started).toHaveLength(3);
    await relay.sync(mapOf(null, [peer('a', 1)]), 'k');
    expect(started[2]!.running).toBe(false);
    expect(relay.status()).toEqual({ port: null, running: false, pairs: 0, error: null });
    expect(await relay.info()).toBeNull();
  });

  it('says why it cannot relay without trellis-wg, and keeps the last good configuration when one is refused', async () => {
    const none = setup('trellis-wg is not installed');
    await none.relay.sync(mapOf(3479, [peer('a', 1), peer('b', 2)]), 'k');
    expect(none.started).toHaveLength(0);
    expect(none.relay.status()).toMatchObject({ port: 3479, running: false, error: 'trellis-wg is not installed' });

    const { relay, started } = setup();
    await relay.sync(mapOf(3479, [peer('a', 1), peer('b', 2)]), 'k');
    started[0]!.refuse = 'relay at x refused the configuration: pairs[0][1] is not a base64 WireGuard key';
    await relay.sync(mapOf(3479, [peer('a', 1), peer('b', 2), peer('c', 3)]), 'k');
    expect(relay.status()).toMatchObject({ running: true, pairs: 1, error: expect.stringContaining('not a base64 WireGuard key') });
    // Fixed by the next map: configured again.
    started[0]!.refuse = null;
    await relay.sync(mapOf(3479, [peer('a', 1), peer('b', 2), peer('c', 3)]), 'k');
    expect(relay.status()).toMatchObject({ pairs: 3, error: null });
  });

  it('stop ends the relay', async () => {
    const { relay, started } = setup();
    await relay.sync(mapOf(3479, [peer('a', 1), peer('b', 2)]), 'k');
    await relay.stop();
    expect(started[0]!.running).toBe(false);
  });
});

describe('relayAllowList and the controller-planned pairs', () => {
  const planned = (plan: NonNullable<NetworkMap['self']['relayPairs']>, peers: PeerNode[]): NetworkMap => {
    const m = mapOf(3479, peers);
    return { ...m, self: { ...m.self, relayPairs: plan } };
  };
  const peers = [peer('a', 1), peer('b', 2), peer('c', 3), peer('d', 4)];

  it('makes the largest group that pairs within itself the mesh and names every other pair', () => {
    // a, b and c pair among themselves; d is served but pairs with no one (it is no one's peer there).
    const allow = relayAllowList(planned({ groups: [['a', 'b', 'c'], ['d']], links: [[0, 0]] }, peers));
    expect(allow).toEqual({ mesh: [key('A'), key('B'), key('C')], pairs: [], count: 3 });
    const cross = relayAllowList(planned({ groups: [['a', 'b'], ['c'], ['d']], links: [[0, 0], [0, 2], [1, 2]] }, peers));
    const pair = (x: string, y: string) => [key(x), key(y)].sort() as [string, string];
    expect(cross).toEqual({ mesh: [key('A'), key('B')], pairs: [pair('A', 'D'), pair('B', 'D'), pair('C', 'D')], count: 4 });
    // Nothing planned: nothing served (not the whole map).
    expect(relayAllowList(planned({ groups: [], links: [] }, peers))).toEqual({ mesh: [], pairs: [], count: 0 });
    // A map from a controller before the relay policy: every pair of the map.
    expect(relayAllowList(mapOf(3479, peers))).toEqual({ mesh: [key('A'), key('B'), key('C'), key('D')], count: 6 });
  });

  it("configures the forwarder with the map's pairs, again when they change, and clears named pairs for an older controller's map", async () => {
    const { relay, started } = setup();
    await relay.sync(planned({ groups: [['a', 'b'], ['c']], links: [[0, 0], [0, 1]] }, peers), 'priv1');
    const pair = (x: string, y: string) => [key(x), key(y)].sort() as [string, string];
    expect(started[0]!.configs).toEqual([{ privateKey: 'priv1', mesh: [key('A'), key('B')], pairs: [pair('A', 'C'), pair('B', 'C')] }]);
    expect(relay.status()).toMatchObject({ running: true, pairs: 3 });
    // The policy stops c from using the relay: its pairs go.
    await relay.sync(planned({ groups: [['a', 'b']], links: [[0, 0]] }, peers), 'priv1');
    expect(started[0]!.configs[1]).toEqual({ mesh: [key('A'), key('B')], pairs: [] });
    expect(relay.status()).toMatchObject({ pairs: 1 });
    await relay.sync(planned({ groups: [['a', 'b']], links: [[0, 0]] }, peers), 'priv1');
    expect(started[0]!.configs).toHaveLength(2);
    await relay.sync(planned({ groups: [['a'], ['d']], links: [[0, 1]] }, peers), 'priv1');
    expect(started[0]!.configs[2]).toEqual({ mesh: [], pairs: [pair('A', 'D')] });
    await relay.sync(mapOf(3479, peers), 'priv1');
    expect(started[0]!.configs[3]).toEqual({ mesh: [key('A'), key('B'), key('C'), key('D')], pairs: [] });
    expect(relay.status()).toMatchObject({ pairs: 6 });
  });
});
