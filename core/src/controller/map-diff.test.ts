import { diffMaps } from '../netmap/delta';
import type { NetworkMapData, PeerNode } from '../netmap/types';
import { diffSortedMaps } from './map-diff';

const peer = (id: string, ep = '192.0.2.1:1'): PeerNode => ({
  id,
  name: id,
  wgKey: `wg-${id}`,
  addresses: { ipv4: '100.64.0.1', ipv6: 'fd7a:7e11:5000::1' },
  endpoints: [ep],
  allowedIps: [],
  tags: [],
  user: null,
  online: false,
  lastSeen: null,
});
const map = (version: number, peers: PeerNode[], extensions: Record<string, unknown> = {}): NetworkMapData => ({
  version,
  epoch: 'e',
  self: { ...peer('self'), expiresAt: null },
  peers,
  packetFilter: null,
  routes: [],
  extensions,
  overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' },
});

describe('diffSortedMaps', () => {
  it('agrees with diffMaps on adds, removals, changes and unchanged maps', () => {
    const shared = peer('b');
    const cases: Array<[NetworkMapData, NetworkMapData]> = [
      [map(1, [peer('a'), shared, peer('d')]), map(2, [shared, peer('c'), peer('d', '192.0.2.9:9'), peer('e')])],
      [map(1, [peer('a'), shared]), map(2, [peer('a'), shared])],
      [map(1, []), map(2, [peer('a')], { x: 1 })],
      [map(1, [peer('a'), peer('z')]), map(2, [])],
    ];
    for (const [prev, next] of cases) expect(diffSortedMaps(prev, next)).toEqual(diffMaps(prev, next));
  });
});
