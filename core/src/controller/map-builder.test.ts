import type { HookRunner } from '../plugins/hook-runner';
import { noHooks } from '../plugins/hook-runner';
import type { MapsBuildContext } from '../api/hooks';
import type { NetworkMapData, PeerNode } from '../netmap/types';
import type { NodeRecord } from '../store/store';
import { buildNetworkMaps, MapBuilder, type SharedPeersContext } from './map-builder';

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

  /** A whole-mesh plugin as posture-opa is one: one shared list per group of alike nodes. */
  const sharedListsPlugin = (sees: (self: string, other: string) => boolean, useWithout: boolean, mangle?: (l: PeerNode[]) => PeerNode[]): HookRunner => ({
    ...noHooks,
    has: (h) => h === 'transformNetworkMaps',
    runSequential: (async (_hook: string, maps: NetworkMapData[], ctx: MapsBuildContext & SharedPeersContext) => {
      const all = [...ctx.peerEntries.values()];
      // Nodes named alike (same first letter) share a list; it holds themselves when they see each other.
      const lists = new Map<string, PeerNode[]>();
      return maps.map((m) => {
        const group = m.self.id[0]!;
        let list = lists.get(group);
        if (!list) {
          list = all.filter((p) => p.id === m.self.id || sees(m.self.id, p.id) || p.id[0] === group);
          list = Object.freeze(mangle ? mangle(list) : list) as PeerNode[];
          lists.set(group, list);
        }
        const peers = useWithout ? ctx.peersWithout(list, m.self.id) : list.filter((p) => p.id !== m.self.id);
        return { ...m, peers };
      });
    }) as HookRunner['runSequential'],
  });

  it('gives each node the shared list less itself through peersWithout, the same peers as filtering', async () => {
    const nodes = ['a1', 'a2', 'a3', 'b1', 'b2', 'c1'].map((id) => node(id, { ipv4: `100.64.0.${id.charCodeAt(0) - 90 + Number(id[1])}` }));
    const sees = (self: string, other: string) => self[0] === 'a' && other[0] === 'c';
    const reference = (self: string) => nodes.map((n) => n.id).filter((id) => id !== self && (id[0] === self[0] || sees(self, id))).sort();
    const maps = await new MapBuilder(sharedListsPlugin(sees, true)).build(input(nodes));
    for (const n of nodes) {
      const peers = maps.get(n.id)!.peers;
      expect(peers.map((p) => p.id)).toEqual(reference(n.id));
      expect(Object.isFrozen(peers)).toBe(true);
      // Entries are the shared ones, not copies: every map holds the same object for a peer.
      for (const p of peers) expect(p).toBe([...maps.values()].flatMap((m) => m.peers).find((q) => q.id === p.id));
    }
    const plain = await new MapBuilder(sharedListsPlugin(sees, false)).build(input(nodes));
    for (const n of nodes) expect(plain.get(n.id)!.peers.map((p) => p.id)).toEqual(reference(n.id));
  });

  it('does not take a frozen list for sorted without checking it: peersWithout and the result are sorted by id', async () => {
    const nodes = ['a1', 'a2', 'a3', 'b1'].map((id, i) => node(id, { ipv4: `100.64.0.${i + 1}` }));
    const maps = await new MapBuilder(sharedListsPlugin(() => true, true, (l) => [...l].reverse())).build(input(nodes));
    expect(maps.get('a2')!.peers.map((p) => p.id)).toEqual(['a1', 'a3', 'b1']);
    expect(maps.get('b1')!.peers.map((p) => p.id)).toEqual(['a1', 'a2', 'a3']);
  });

  it('peersAt picks entries by increasing position as a sorted list and refuses positions out of order', async () => {
    const nodes = ['a', 'b', 'c', 'd'].map((id) => node(id));
    let refused: unknown = null;
    const hooks: HookRunner = {
      ...noHooks,
      has: (h) => h === 'transformNetworkMaps',
      runSequential: (async (_hook: string, maps: NetworkMapData[], ctx: MapsBuildContext & SharedPeersContext) => {
        // Odd nodes see b and d (positions 1 and 3), the others see a and c (positions 0 and 2).
        const odd = ctx.peersAt([1, 3]);
        const even = ctx.peersAt(new Int32Array([0, 2]));
        try {
          ctx.peersAt([2, 1]);
        } catch (err) {
          refused = err;
        }
        return maps.map((m) => ({ ...m, peers: ctx.peersWithout(['a', 'c'].includes(m.self.id) ? odd : even, m.self.id) }));
      }) as HookRunner['runSequential'],
    };
    const maps = await new MapBuilder(hooks).build(input(nodes));
    expect(refused).toBeInstanceOf(RangeError);
    expect(maps.get('a')!.peers.map((p) => p.id)).toEqual(['b', 'd']);
    expect(maps.get('b')!.peers.map((p) => p.id)).toEqual(['a', 'c']);
    expect(maps.get('a')!.peers).toBe(maps.get('c')!.peers);
    expect(Object.isFrozen(maps.get('d')!.peers)).toBe(true);
  });

  it('lets a whole-mesh plugin copy a map by its property descriptors without building its peers; the copy builds them on read', async () => {
    let peersReadInHook = false;
    const hooks: HookRunner = {
      ...noHooks,
      has: (h) => h === 'transformNetworkMaps',
      runSequential: (async (_hook: string, maps: NetworkMapData[]) =>
        maps.map((m) => {
          const d = Object.getOwnPropertyDescriptors(m);
          peersReadInHook ||= d.peers.get === undefined;
          d.extensions = { value: { mark: m.self.id }, writable: true, enumerable: true, configurable: true };
          return Object.defineProperties({}, d) as NetworkMapData;
        })) as HookRunner['runSequential'],
    };
    const maps = await new MapBuilder(hooks).build(input([node('a'), node('b'), node('c')]));
    expect(peersReadInHook).toBe(false);
    expect(maps.get('b')!.peers.map((p) => p.id)).toEqual(['a', 'c']);
    expect(maps.get('b')!.extensions).toEqual({ mark: 'b' });
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
