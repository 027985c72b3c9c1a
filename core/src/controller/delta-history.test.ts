import { applyMapResponse, diffMaps } from '../netmap/delta';
import type { NetworkMapData, PeerNode } from '../netmap/types';
import { composeDeltas } from './delta-history';

const peer = (id: string, endpoint = '192.0.2.1:1'): PeerNode => ({
  id,
  name: id,
  wgKey: `wg-${id}`,
  addresses: { ipv4: '100.64.0.1', ipv6: 'fd7a:7e11:5000::1' },
  endpoints: [endpoint],
  allowedIps: [],
  tags: [],
  user: null,
  online: false,
  lastSeen: null,
});
const map = (version: number, peers: PeerNode[], online = false): NetworkMapData => ({
  version,
  epoch: 'e',
  self: { ...peer('self'), online, expiresAt: null },
  peers,
  packetFilter: null,
  routes: [],
  extensions: {},
  overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' },
});

describe('composeDeltas', () => {
  it('turns a chain of deltas into one that lands on the same map', () => {
    const m1 = map(1, [peer('a'), peer('b')]);
    const m2 = map(2, [peer('a'), peer('b', '192.0.2.2:2'), peer('c')]);
    const m3 = map(3, [peer('b', '192.0.2.2:2'), peer('c')], true);
    const m4 = map(4, [peer('a', '192.0.2.4:4'), peer('b', '192.0.2.2:2')], true);
    const deltas = [diffMaps(m1, m2)!, diffMaps(m2, m3)!, diffMaps(m3, m4)!];
    const composed = composeDeltas(deltas);
    expect(composed).toMatchObject({ baseVersion: 1, version: 4, peersRemoved: ['c'] });
    expect(composed.peersUpserted.map((p) => p.id)).toEqual(['a', 'b']);
    expect(composed.self?.online).toBe(true);
    expect(applyMapResponse(m1, composed)).toEqual(m4);
  });

  it('refuses a chain with a gap', () => {
    const m1 = map(1, []);
    const m2 = map(2, [peer('a')]);
    const m3 = map(3, [peer('a'), peer('b')]);
    expect(() => composeDeltas([diffMaps(m1, m2)!, { ...diffMaps(m2, m3)!, baseVersion: 7 }])).toThrow(/gap/);
  });
});
