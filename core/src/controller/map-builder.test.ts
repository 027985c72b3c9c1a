import type { HookRunner } from '../plugins/hook-runner';
import { noHooks } from '../plugins/hook-runner';
import type { NetworkMapData } from '../netmap/types';
import type { NodeRecord } from '../store/store';
import { buildNetworkMaps, MapBuilder } from './map-builder';

const NOW = 1_700_000_000_000;
const node = (id: string, over: Partial<NodeRecord> = {}): NodeRecord => ({
  id,
  name: `name-${id}`,
  hostname: `host-${id}`,
  user: null,
  tags: ['tag:x'],
  wgKey: `wg-${id}`,
  identityKey: `id-${id}`,
  ipv4: `100.64.0.${id.charCodeAt(0) - 96}`,
  ipv6: `fd7a:7e11:5000::${id.charCodeAt(0) - 96}`,
  endpoints: ['192.0.2.1:51820'],
  authKeyId: 'k',
  lastSeen: null,
  createdAt: NOW,
  expiresAt: null,
  revoked: false,
  revokedAt: null,
  facts: null,
  posture: null,
  ...over,
});
const input = (nodes: NodeRecord[], online = new Set<string>()) => ({
  nodes,
  presence: (n: NodeRecord) => ({ online: online.has(n.id), lastSeen: n.lastSeen }),
  overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' },
  epoch: 'e1',
  now: NOW,
});

describe('buildNetworkMaps', () => {
  it('gives each live node its peers sorted by id, sharing one entry per peer', () => {
    const nodes = [node('c'), node('a'), node('b'), node('d', { revoked: true }), node('e', { expiresAt: NOW - 1 })];
    const { maps, peers } = buildNetworkMaps(input(nodes, new Set(['b'])));
    expect([...maps.keys()].sort()).toEqual(['a', 'b', 'c']);
    const a = maps.get('a')!;
    expect(a.peers.map((p) => p.id)).toEqual(['b', 'c']);
    expect(a.self).toMatchObject({ id: 'a', expiresAt: null, allowedIps: ['100.64.0.1/32', 'fd7a:7e11:5000::1/128'] });
    expect(a.peers[0]).toMatchObject({ online: true, wgKey: 'wg-b', allowedIps: ['100.64.0.2/32', 'fd7a:7e11:5000::2/128'] });
    expect(a).toMatchObject({ packetFilter: null, routes: [], extensions: {}, overlay: { ipv4Cidr: '100.64.0.0/10' } });
    expect(maps.get('c')!.peers[1]).toBe(a.peers[0]);
    expect(peers.get('b')).toBe(a.peers[0]);
    expect(Object.isFrozen(a.peers[0])).toBe(true);
  });

  it('reuses unchanged peer objects from the previous build', () => {
    const first = buildNetworkMaps(input([node('a'), node('b')]));
    const second = buildNetworkMaps({ ...input([node('a'), node('b', { endpoints: ['192.0.2.9:1'] })]), previousPeers: first.peers });
    expect(second.peers.get('a')).toBe(first.peers.get('a'));
    expect(second.peers.get('b')).not.toBe(first.peers.get('b'));
  });
});

describe('MapBuilder', () => {
  it('runs transformNetworkMap per node when a plugin has it', async () => {
    const seen: string[] = [];
    const hooks: HookRunner = {
      ...noHooks,
      has: (h) => h === 'transformNetworkMap',
      runSequential: (async (_hook: string, map: NetworkMapData, ctx: { nodeId: string }) => {
        seen.push(ctx.nodeId);
        return { ...map, extensions: { test: { node: ctx.nodeId } } };
      }) as HookRunner['runSequential'],
    };
    const maps = await new MapBuilder(hooks).build(input([node('a'), node('b')]));
    expect(seen.sort()).toEqual(['a', 'b']);
    expect(maps.get('b')!.extensions).toEqual({ test: { node: 'b' } });
  });

  it('keeps peers sorted by id even when a plugin reorders them', async () => {
    const hooks: HookRunner = {
      ...noHooks,
      has: (h) => h === 'transformNetworkMap',
      runSequential: (async (_hook: string, map: NetworkMapData) => ({ ...map, peers: [...map.peers].reverse() })) as HookRunner['runSequential'],
    };
    const maps = await new MapBuilder(hooks).build(input([node('a'), node('b'), node('c')]));
    expect(maps.get('a')!.peers.map((p) => p.id)).toEqual(['b', 'c']);
  });
});
