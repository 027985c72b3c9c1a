import pino from 'pino';
import { definePlugin, PluginErrorCode, type AccessDecision, type AccessDecisionRequest, type NodeGrants, type TrellisPlugin } from '../api';
import { PluginHost } from '../plugins/plugin-host';
import type { NodeRecord } from '../store/store';
import { nodeRecord } from '../store/testing/node-record';
import { buildNetworkMaps, MapBuilder, type Mesh } from './map-builder';

const NOW = 1_700_000_000_000;
/** Node `id` ('a', 'b', …): numbered by its letter, so 'a' is at 100.64.0.1. */
const node = (id: string, over: Partial<NodeRecord> = {}): NodeRecord => nodeRecord(id.charCodeAt(0) - 97, { id, tags: ['tag:x'], wgKey: `wg-${id}`, ...over });
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

/** hostWith runs plugins through the real PluginHost (hook kinds, wrapping) on the controller side. */
async function hostWith(...plugins: Array<Partial<TrellisPlugin> & { name: string }>): Promise<PluginHost> {
  const host = new PluginHost('controller', pino({ level: 'silent' }));
  await host.start(
    plugins.map(({ name, ...hooks }) => ({ plugin: definePlugin({ manifest: { name, version: '1.0.0', apiRange: '^1.0.0' }, ...hooks }), config: {} })),
    {},
  );
  return host;
}

/** decider answers decideAccess with one grant per entry: [sources, destinations] by node id. */
function decider(grants: Array<[string[], string[]]>, version = 'v1'): (req: AccessDecisionRequest) => AccessDecision {
  return (req) => {
    const nodes = new Map<string, NodeGrants>();
    for (const n of req.nodes) {
      const src = grants.flatMap(([s], g) => (s.includes(n.id) ? [g] : []));
      const dst = grants.flatMap(([, d], g) => (d.includes(n.id) ? [g] : []));
      nodes.set(n.id, { src, srcByPrefix: [], dst });
    }
    return { version, grants: grants.map((_, g) => ({ label: `g${g}`, proto: 'any', dstPorts: [], srcPrefixes: [] })), nodes };
  };
}

const peerIds = (mesh: Mesh, id: string) => mesh.mapOf(id)!.peers.map((p) => p.id);

describe('MapBuilder', () => {
  it('runs mapExtension per node when a plugin has it', async () => {
    const seen: string[] = [];
    const host = await hostWith({ name: 'test', mapExtension: (node) => (seen.push(node.id), { node: node.id }) });
    const mesh = await new MapBuilder(host).build(input([node('a'), node('b')]));
    expect(seen.sort()).toEqual(['a', 'b']);
    expect(mesh.mapOf('b')!.extensions).toEqual({ test: { node: 'b' } });
  });

  it('gives each node its class list less itself, the same peers as filtering, sharing entries', async () => {
    const nodes = ['a1', 'a2', 'a3', 'b1', 'b2', 'c1'].map((id) => node(id, { ipv4: `100.64.0.${id.charCodeAt(0) - 90 + Number(id[1])}` }));
    const ids = nodes.map((n) => n.id);
    // Nodes named alike (same first letter) see each other; a's and c's see each other too (both ways).
    const groups = ['a', 'b', 'c'].map((l) => [ids.filter((id) => id[0] === l), ids.filter((id) => id[0] === l)] as [string[], string[]]);
    const sees = (self: string, other: string) => (self[0] === 'a' && other[0] === 'c') || (self[0] === 'c' && other[0] === 'a');
    const reference = (self: string) => ids.filter((id) => id !== self && (id[0] === self[0] || sees(self, id))).sort();
    const host = await hostWith({ name: 'policy', decideAccess: decider([...groups, [ids.filter((id) => id[0] === 'a'), ids.filter((id) => id[0] === 'c')]]) });
    const mesh = await new MapBuilder(host).build(input(nodes));
    const all = nodes.map((n) => mesh.mapOf(n.id)!);
    for (const n of nodes) {
      const peers = mesh.mapOf(n.id)!.peers;
      expect(peers.map((p) => p.id)).toEqual(reference(n.id));
      expect(Object.isFrozen(peers)).toBe(true);
      // Entries are the shared ones, not copies: every map holds the same object for a peer.
      for (const p of peers) expect(p).toBe(all.flatMap((m) => m.peers).find((q) => q.id === p.id));
    }
  });

  it('keeps peers sorted by id whatever order the decider lists grants and nodes in', async () => {
    const nodes = ['a1', 'a2', 'a3', 'b1'].map((id, i) => node(id, { ipv4: `100.64.0.${i + 1}` }));
    const reversed = (req: AccessDecisionRequest): AccessDecision => {
      const nodes = new Map<string, NodeGrants>();
      for (const n of [...req.nodes].reverse()) nodes.set(n.id, { src: [1, 0], srcByPrefix: [], dst: [1, 0, 1] });
      return { version: 'r', grants: [0, 1].map((g) => ({ label: `g${g}`, proto: 'any', dstPorts: [], srcPrefixes: [] })), nodes };
    };
    const mesh = await new MapBuilder(await hostWith({ name: 'policy', decideAccess: reversed })).build(input(nodes));
    expect(peerIds(mesh, 'a2')).toEqual(['a1', 'a3', 'b1']);
    expect(peerIds(mesh, 'b1')).toEqual(['a1', 'a2', 'a3']);
  });

  it('shares one frozen list between nodes of a class that does not see itself, and refuses grant positions out of range', async () => {
    const nodes = ['a', 'b', 'c', 'd'].map((id) => node(id));
    // a and c see b and d (and the other way round), nobody else.
    const mesh = await new MapBuilder(await hostWith({ name: 'policy', decideAccess: decider([[['a', 'c'], ['b', 'd']]]) })).build(input(nodes));
    expect(peerIds(mesh, 'a')).toEqual(['b', 'd']);
    expect(peerIds(mesh, 'b')).toEqual(['a', 'c']);
    expect(mesh.mapOf('a')!.peers).toBe(mesh.mapOf('c')!.peers);
    expect(Object.isFrozen(mesh.mapOf('d')!.peers)).toBe(true);
    const bad = (req: AccessDecisionRequest): AccessDecision => ({ ...decider([[['a'], ['b']]])(req), nodes: new Map([['a', { src: [3], srcByPrefix: [], dst: [] }]]) });
    const refused = await new MapBuilder(await hostWith({ name: 'policy', decideAccess: bad })).build(input(nodes)).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: PluginErrorCode.ACCESS_DECISION_INVALID, message: expect.stringContaining('src of node a holds 3') });
  });

  it('builds no peer list while deciding and extending; a map builds its peers when read', async () => {
    const host = await hostWith(
      { name: 'policy', decideAccess: decider([[['a', 'b', 'c'], ['a', 'b', 'c']]]) },
      { name: 'marker', mapExtension: (n) => ({ mark: n.id }) },
    );
    const mesh = await new MapBuilder(host).build(input([node('a'), node('b'), node('c')]));
    expect(mesh.materializedLists).toBe(0);
    expect(peerIds(mesh, 'b')).toEqual(['a', 'c']);
    expect(mesh.mapOf('b')!.extensions).toEqual({ marker: { mark: 'b' } });
    expect(mesh.materializedLists).toBe(1);
  });

  it('gives unapproved nodes no peers and never shows them to the decider', async () => {
    const asked: string[][] = [];
    const host = await hostWith({ name: 'policy', decideAccess: (req) => (asked.push(req.nodes.map((n) => n.id)), decider([[['a', 'b', 'c'], ['a', 'b', 'c']]])(req)) });
    const mesh = await new MapBuilder(host).build(input([node('a'), node('b', { approved: false }), node('c')]));
    expect(asked).toEqual([['a', 'c']]);
    expect(peerIds(mesh, 'a')).toEqual(['c']);
    expect(mesh.mapOf('b')!.peers).toEqual([]);
    expect(mesh.mapOf('b')!.packetFilter).toEqual([]);
    const open = buildNetworkMaps(input([node('a'), node('b', { approved: false }), node('c')]));
    expect(open.maps.get('b')!.packetFilter).toBeNull();
    expect(open.maps.get('a')!.peers.map((p) => p.id)).toEqual(['c']);
  });
});
