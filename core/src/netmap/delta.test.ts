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
});
