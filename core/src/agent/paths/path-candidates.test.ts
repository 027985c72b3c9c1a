import type { NetworkMap, PeerNode } from '../../netmap/types';
import { fakePeer as peer } from '../testing/peer-fixture';
import { pathCandidates, relaysOf } from './path-candidates';

function mapOf(self: PeerNode, peers: PeerNode[], relayedBy?: string[]): NetworkMap {
  return {
    version: 1,
    epoch: 'e',
    self: { ...self, expiresAt: null, ...(relayedBy ? { relayedBy } : {}) },
    peers,
    packetFilter: null,
    routes: [],
    extensions: {},
    overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' },
  };
}

const relay = (id: string, n: number, relayedBy?: string[]): PeerNode => ({ ...peer(id, n), relay: { port: 51821 }, ...(relayedBy ? { relayedBy } : {}) });
const ids = (m: NetworkMap) => Object.fromEntries(pathCandidates(m).map((p) => [p.peer.id, p.candidates.map((c) => c.id)]));

describe('pathCandidates', () => {
  it('offers a relay for a pair only when the controller names it on both ends', () => {
    const a = peer('a', 1);
    // r1 serves a, b and c; r2 serves a and c only; r3 serves b and c but not a.
    const b = { ...peer('b', 2), relayedBy: ['r1', 'r3'] };
    const c = { ...peer('c', 3), relayedBy: ['r1', 'r2', 'r3'] };
    const m = mapOf(a, [b, c, relay('r1', 11), relay('r2', 12), relay('r3', 13)], ['r1', 'r2']);
    expect(ids(m)).toMatchObject({
      b: ['direct:198.18.0.2:51820', 'relay:r1'],
      c: ['direct:198.18.0.3:51820', 'relay:r1', 'relay:r2'],
    });
    // Only relays that serve this node are pinged (the others would drop and count the pings).
    expect(relaysOf(m).map((r) => [r.id, r.endpoint])).toEqual([
      ['r1', '198.18.0.11:51821'],
      ['r2', '198.18.0.12:51821'],
    ]);
  });

  it('a node no relay serves has direct candidates only', () => {
    const m = mapOf(peer('a', 1), [{ ...peer('b', 2), relayedBy: ['r1'] }, relay('r1', 11)], []);
    expect(ids(m).b).toEqual(['direct:198.18.0.2:51820']);
    expect(relaysOf(m)).toEqual([]);
  });

  it("says how the peer learned each direct address when the map carries its candidates", () => {
    const b: PeerNode = {
      ...peer('b', 2),
      endpoints: ['198.18.0.2:51820', '198.19.0.2:51820', '203.0.113.2:40001'],
      candidates: [
        { kind: 'local', address: '198.18.0.2:51820', learnedAt: 1 },
        { kind: 'uplink', address: '198.19.0.2:51820', learnedAt: 1 },
        { kind: 'reflexive', address: '203.0.113.2:40001', learnedAt: 2, source: 'stun 198.51.100.1:3478' },
      ],
    };
    const [c] = pathCandidates(mapOf(peer('a', 1), [b], []));
    expect(c!.candidates.map((x) => [x.endpoint, x.endpointKind])).toEqual([
      ['198.18.0.2:51820', 'local'],
      ['198.19.0.2:51820', 'uplink'],
      ['203.0.113.2:40001', 'reflexive'],
    ]);
  });

  it('a map from a controller before the relay policy offers every relay, as before', () => {
    const m = mapOf(peer('a', 1), [peer('b', 2), relay('r1', 11)]);
    expect(ids(m).b).toEqual(['direct:198.18.0.2:51820', 'relay:r1']);
    expect(relaysOf(m).map((r) => r.id)).toEqual(['r1']);
  });
});
