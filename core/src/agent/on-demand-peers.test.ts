import pino from 'pino';
import type { NetworkMap, OnDemandPeer, PeerNode } from '../netmap/types';
import type { WgPeerStats } from '../wg/types';
import { OnDemandPeers, onDemandCandidates, withOnDemandPeers, type OnDemandDevice } from './on-demand-peers';
import { toWgConfig } from './to-wg-config';
import { fakeKey as key, fakePeer as peer } from './testing/peer-fixture';

const log = pino({ level: 'silent' });

/** Spoke s (node 2) of a hub-and-spoke mesh: hubs h1 (relay on 3479) and h2 (no relay), remote spokes b and c on demand. */
function spokeMap(onDemand: OnDemandPeer[] = [remote('b', 3), remote('c', 4)], hubs: PeerNode[] = [hub('h1', 10, 3479), hub('h2', 11, null)]): NetworkMap {
  return {
    version: 1,
    epoch: 'e1',
    self: { ...peer('s', 2), expiresAt: null },
    peers: hubs,
    packetFilter: null,
    routes: [
      { prefix: '100.64.0.0/10', via: 'h1', kind: 'transit' },
      { prefix: 'fd7a:7e11:5000::/48', via: 'h1', kind: 'transit' },
    ],
    extensions: {},
    overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' },
    onDemand,
  } as NetworkMap;
}

function hub(id: string, n: number, relayPort: number | null): PeerNode {
  return { ...peer(id, n), hub: true, relay: relayPort === null ? null : { port: relayPort } };
}

function remote(id: string, n: number, via = ['h1']): OnDemandPeer {
  const p = peer(id, n);
  return { id, name: p.name, wgKey: p.wgKey, allowedIps: p.allowedIps, via };
}

/** FakeDevice records watches and handshake requests; stats are what the test says the device shows. */
class FakeDevice implements OnDemandDevice {
  watches: Array<{ addresses: string[]; intervalMs?: number }> = [];
  handshakes: string[] = [];
  refuse: string | null = null;
  async watch(addresses: readonly string[], intervalMs?: number): Promise<void> {
    if (this.refuse) throw new Error(this.refuse);
    this.watches.push(intervalMs === undefined ? { addresses: [...addresses] } : { addresses: [...addresses], intervalMs });
  }
  async handshake(publicKey: string): Promise<void> {
    this.handshakes.push(publicKey);
  }
}

function setup(opts: { maxPeers?: number } = {}) {
  let now = 1_000_000;
  let changes = 0;
  const device = new FakeDevice();
  const od = new OnDemandPeers({ device, log, now: () => now, changed: () => changes++, idleMs: 60_000, handshakeTimeoutMs: 20_000, ...opts });
  return {
    od,
    device,
    advance: (ms: number) => (now += ms),
    now: () => now,
    changes: () => changes,
  };
}

const stat = (k: string, lastHandshake: number | null): WgPeerStats => ({ publicKey: k, endpoint: '198.18.0.10:3479', lastHandshake, rxBytes: 0, txBytes: 0, allowedIps: [] });

describe('onDemandCandidates', () => {
  it("resolves each remote spoke's relay endpoint at the first listed hub that offers a relay", () => {
    const m = spokeMap([remote('b', 3, ['h2', 'h1']), remote('c', 4, ['h2']), remote('h1', 10)]);
    // c: only through h2, which offers no relay; h1 is a peer already.
    expect(onDemandCandidates(m)).toEqual([
      { id: 'b', name: 'node-b', wgKey: key('B'), allowedIps: ['100.64.0.3/32', 'fd7a:7e11:5000::3/128'], endpoint: '198.18.0.10:3479', via: 'h1' },
    ]);
    const v6 = spokeMap([remote('b', 3)], [{ ...hub('h1', 10, 3479), endpoints: ['[2001:db8::10]:51820'] }]);
    expect(onDemandCandidates(v6)[0]!.endpoint).toBe('[2001:db8::10]:3479');
  });

  it('prefers the first listed hub that is online, and falls back to the first relay hub when none is', () => {
    const hubs = [{ ...hub('h1', 10, 3479), online: false }, hub('h3', 12, 3479)];
    expect(onDemandCandidates(spokeMap([remote('b', 3, ['h1', 'h3'])], hubs))[0]).toMatchObject({ via: 'h3', endpoint: '198.18.0.12:3479' });
    const down = hubs.map((h) => ({ ...h, online: false }));
    expect(onDemandCandidates(spokeMap([remote('b', 3, ['h1', 'h3'])], down))[0]).toMatchObject({ via: 'h1', endpoint: '198.18.0.10:3479' });
  });
});

describe('OnDemandPeers', () => {
  it('watches the remote spokes and holds no peer for them at rest: the spoke configures only its hubs', async () => {
    const { od, device } = setup();
    await od.setMap(spokeMap());
    expect(device.watches).toEqual([{ addresses: ['100.64.0.3', '100.64.0.4', 'fd7a:7e11:5000::3', 'fd7a:7e11:5000::4'] }]);
    await od.setMap(spokeMap());
    expect(device.watches).toHaveLength(1);
    expect(od.peers()).toEqual([]);
    const cfg = withOnDemandPeers(toWgConfig(spokeMap(), { acceptRoutes: false } as never, 'priv', 51820), od.peers());
    expect(cfg.peers.map((p) => p.publicKey)).toEqual([key('H1'), key('H2')].sort());
    expect(od.status()).toMatchObject({ candidates: 2, staged: 0, open: 0 });
  });

  it('adds a peer on demand staged at the hub relay, asks for a handshake, opens after it, and removes it when idle', async () => {
    const { od, device, advance, now, changes } = setup();
    await od.setMap(spokeMap());
    od.onDemand({ direction: 'outbound', address: '100.64.0.9' }); // not offered: ignored
    expect(changes()).toBe(0);
    od.onDemand({ direction: 'outbound', address: '100.64.0.3' });
    expect(changes()).toBe(1);
    // Staged: the relay endpoint, no allowed IPs, so traffic stays on the hub meanwhile.
    expect(od.peers()).toEqual([{ publicKey: key('B'), endpoint: '198.18.0.10:3479', allowedIps: [], persistentKeepalive: 25 }]);
    const hubsOnly = toWgConfig(spokeMap(), { acceptRoutes: false } as never, 'priv', 51820);
    const cfg = withOnDemandPeers(hubsOnly, od.peers());
    expect(cfg.peers.map((p) => p.publicKey)).toEqual([key('B'), ...hubsOnly.peers.map((p) => p.publicKey)].sort());
    // A second report of the same address does not add it again.
    od.onDemand({ direction: 'inbound', address: 'fd7a:7e11:5000::3' });
    expect(changes()).toBe(1);

    // Once the device has the peer, a handshake is asked for, at most every 5 s.
    await od.tick([stat(key('B'), null)]);
    advance(1000);
    await od.tick([stat(key('B'), null)]);
    expect(device.handshakes).toEqual([key('B')]);
    advance(4000);
    await od.tick([stat(key('B'), null)]);
    expect(device.handshakes).toEqual([key('B'), key('B')]);
    expect(od.status()).toMatchObject({ staged: 1, open: 0, added: 1 });

    // The handshake completes through the relay: the peer opens with its overlay addresses.
    await od.tick([stat(key('B'), now())]);
    expect(changes()).toBe(2);
    expect(od.peers()).toEqual([{ publicKey: key('B'), endpoint: '198.18.0.10:3479', allowedIps: ['100.64.0.3/32', 'fd7a:7e11:5000::3/128'], persistentKeepalive: 25 }]);
    expect(od.status()).toMatchObject({ staged: 0, open: 1 });

    // Demand keeps it; 60 s without demand removes it.
    advance(50_000);
    od.onDemand({ direction: 'inbound', address: '100.64.0.3' });
    advance(50_000);
    await od.tick([stat(key('B'), now())]);
    expect(od.peers()).toHaveLength(1);
    advance(10_001);
    await od.tick([stat(key('B'), now())]);
    expect(od.peers()).toEqual([]);
    expect(changes()).toBe(3);
    expect(od.status()).toMatchObject({ staged: 0, open: 0, added: 1, removedIdle: 1 });
  });

  it('drops a staged peer that never handshakes: its traffic stays on the hub', async () => {
    const { od, advance } = setup();
    await od.setMap(spokeMap());
    od.onDemand({ direction: 'outbound', address: '100.64.0.4' });
    for (let i = 0; i < 21; i++) {
      advance(1000);
      od.onDemand({ direction: 'outbound', address: '100.64.0.4' });
      await od.tick([stat(key('C'), null)]);
    }
    expect(od.peers()).toEqual([]);
    expect(od.status()).toMatchObject({ handshakeFailed: 1 });
  });

  it('keeps at most maxPeers, making room by the least recently active', async () => {
    const { od, advance } = setup({ maxPeers: 1 });
    await od.setMap(spokeMap());
    od.onDemand({ direction: 'outbound', address: '100.64.0.3' });
    advance(10);
    od.onDemand({ direction: 'outbound', address: '100.64.0.4' });
    expect(od.peers().map((p) => p.publicKey)).toEqual([key('C')]);
    expect(od.status()).toMatchObject({ evicted: 1, added: 2 });
  });

  it('follows the map: a spoke that leaves the offer goes, a moved relay is updated, a refused watch keeps the state', async () => {
    const { od, device, changes } = setup();
    await od.setMap(spokeMap());
    od.onDemand({ direction: 'outbound', address: '100.64.0.3' });
    od.onDemand({ direction: 'outbound', address: '100.64.0.4' });
    expect(changes()).toBe(2);
    await od.setMap(spokeMap([remote('b', 3)], [{ ...hub('h1', 10, 3480) }, hub('h2', 11, null)]));
    expect(changes()).toBe(3);
    expect(od.peers()).toEqual([{ publicKey: key('B'), endpoint: '198.18.0.10:3480', allowedIps: [], persistentKeepalive: 25 }]);
    expect(device.watches.at(-1)).toEqual({ addresses: ['100.64.0.3', 'fd7a:7e11:5000::3'] });
    device.refuse = 'watch: the device is not up';
    await expect(od.setMap(spokeMap())).rejects.toThrow('watch: the device is not up');
    device.refuse = null;
    // The set the device refused is sent again with the next map.
    await od.setMap(spokeMap());
    expect(device.watches.at(-1)!.addresses).toHaveLength(4);
  });
});
