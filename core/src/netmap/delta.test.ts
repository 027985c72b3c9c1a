import fc from 'fast-check';
import { applyMapResponse, diffMaps, MapDeltaMismatch } from './delta';
import type { NetworkMapData, PeerNode } from './types';

const peer = (id: string, extra: Partial<PeerNode> = {}): PeerNode => ({
  id,
  name: `node-${id}`,
  wgKey: `${id}`.padEnd(43, 'A') + '=',
  addresses: { ipv4: `100.64.0.${id.length}`, ipv6: 'fd7a:7e11:5000::1' },
  endpoints: [`198.18.0.${id.length}:51820`],
  allowedIps: ['100.64.0.1/32'],
  tags: [],
  user: null,
  online: true,
  lastSeen: null,
  ...extra,
});

const map = (version: number, peers: PeerNode[], extra: Partial<NetworkMapData> = {}): NetworkMapData => ({
  version,
  epoch: 'e1',
  self: { ...peer('self'), expiresAt: null },
  peers,
  packetFilter: null,
  routes: [],
  extensions: {},
  overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' },
  ...extra,
});

describe('diffMaps / applyMapResponse', () => {
  it('returns null for equal maps', () => {
    expect(diffMaps(map(1, [peer('a')]), map(2, [peer('a')]))).toBeNull();
  });

  it('carries only changed peers and round-trips', () => {
    const prev = map(1, [peer('a'), peer('b'), peer('c')]);
    const next = map(2, [peer('a'), peer('b', { endpoints: ['198.18.0.99:51820'] }), peer('d')]);
    const delta = diffMaps(prev, next)!;
    expect(delta.peersUpserted.map((p) => p.id)).toEqual(['b', 'd']);
    expect(delta.peersRemoved).toEqual(['c']);
    expect(delta.self).toBeUndefined();
    expect(applyMapResponse(prev, delta)).toEqual(next);
  });

  it('treats a shared peer object as unchanged and a reordered-equal copy as unchanged', () => {
    const shared = peer('b');
    const prev = map(1, [peer('a'), shared]);
    const next = map(2, [peer('a'), shared, peer('c')]);
    expect(diffMaps(prev, next)!.peersUpserted.map((p) => p.id)).toEqual(['c']);
  });

  it('carries self, filter, routes and extensions when they change', () => {
    const prev = map(1, []);
    const next = map(2, [], { packetFilter: [], routes: [{ prefix: '10.9.0.0/16', via: 'a' }], extensions: { x: 1 } });
    const delta = diffMaps(prev, next)!;
    expect(delta).toMatchObject({ packetFilter: [], routes: [{ prefix: '10.9.0.0/16', via: 'a' }], extensions: { x: 1 } });
    expect(applyMapResponse(prev, delta)).toEqual(next);
  });

  it('refuses a delta that does not start at the local version or epoch', () => {
    const delta = diffMaps(map(1, []), map(2, [peer('a')]))!;
    expect(() => applyMapResponse(map(5, []), delta)).toThrow(MapDeltaMismatch);
    expect(() => applyMapResponse(null, delta)).toThrow(MapDeltaMismatch);
    expect(() => applyMapResponse(map(1, [], { epoch: 'other' }), delta)).toThrow(MapDeltaMismatch);
  });

  it('does not mutate its input', () => {
    const prev = map(1, [peer('a')]);
    const frozen = JSON.stringify(prev);
    applyMapResponse(prev, diffMaps(prev, map(2, []))!);
    expect(JSON.stringify(prev)).toBe(frozen);
  });

  it('applies peer upserts and removals as "remove, then upsert; sorted by id", sorted input or not', () => {
    const id: fc.Arbitrary<string> = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h');
    fc.assert(
      fc.property(fc.uniqueArray(id), fc.array(fc.tuple(id, fc.nat(9))), fc.array(id), fc.boolean(), (have, ups, rm, sortUps) => {
        const current = map(1, [...have].sort().map((x) => peer(x)));
        const upserted = ups.map(([x, port]) => peer(x, { endpoints: [`198.18.0.1:${port}`] }));
        const delta = { kind: 'delta' as const, epoch: 'e1', baseVersion: 1, version: 2, peersUpserted: sortUps ? [...new Map(upserted.map((p) => [p.id, p])).values()].sort((a, b) => (a.id < b.id ? -1 : 1)) : upserted, peersRemoved: rm };
        // The reference: every current peer not removed, then each upsert (the last one of an id wins), sorted.
        const want = new Map(current.peers.filter((p) => !rm.includes(p.id)).map((p) => [p.id, p]));
        for (const p of delta.peersUpserted) want.set(p.id, p);
        expect(applyMapResponse(current, delta).peers).toEqual([...want.values()].sort((a, b) => (a.id < b.id ? -1 : 1)));
      }),
      { numRuns: 500 },
    );
  });
});
