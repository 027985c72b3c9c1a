import pino from 'pino';
import { definePlugin, type AccessDecision, type AccessDecisionRequest, type NodeGrants, type NodeInfo, type TrellisPlugin } from '../api';
import { toWgConfig } from '../agent/to-wg-config';
import { PluginHost } from '../plugins/plugin-host';
import type { AuditEntry, NodeRecord, Store } from '../store/store';
import { nodeRecord } from '../store/testing/node-record';
import { MapBuilder, nodeInfoOf, type Mesh } from './map-builder';
import { routesForMesh } from './route-plan';
import { chooseHub, FULL_MESH_TOPOLOGY, parseTopology, Topology, unmatchedSelectors } from './topology';
import { SETTING_TOPOLOGY, TopologySettings } from './topology-settings';
import { pairPaths, topologyFigures, topologyView } from './topology-view';

const NOW = 1_700_000_000_000;
const OVERLAY = { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' };

const node = (i: number, tags: string[], over: Partial<NodeRecord> = {}): NodeRecord => nodeRecord(i, { tags, ...over });

const topology = (value: unknown) => new Topology(parseTopology(value, 'test'));

async function host(plugin: Partial<TrellisPlugin> | null): Promise<PluginHost> {
  const h = new PluginHost('controller', pino({ level: 'silent' }));
  if (plugin) await h.start([{ plugin: definePlugin({ manifest: { name: 'policy', version: '1.0.0', apiRange: '^1.0.0' }, ...plugin }), config: {} }], {});
  return h;
}

/** build runs the real pipeline (decide, build, transit routes) over nodes, with the given topology. */
async function build(nodes: NodeRecord[], t: Topology, opts: { online?: (id: string) => boolean; decide?: (req: AccessDecisionRequest) => AccessDecision } = {}): Promise<Mesh> {
  const h = await host(opts.decide ? { decideAccess: opts.decide } : null);
  const mesh = await new MapBuilder(h, () => t).build({
    nodes,
    presence: (n) => ({ online: opts.online ? opts.online(n.id) : true, lastSeen: null }),
    overlay: OVERLAY,
    epoch: 'e',
    now: NOW,
  });
  const routes = routesForMesh(mesh, [], () => new Set());
  for (const n of mesh.order) n.routes = routes.get(n.id)!;
  return mesh;
}

const peers = (mesh: Mesh, id: string) => mesh.mapOf(id)!.peers.map((p) => p.name);

describe('topology config', () => {
  it('refuses bad topologies with a message naming what is wrong', () => {
    expect(() => parseTopology({ mode: 'star' }, 'cfg')).toThrow('topology.mode "star" is not one of full, hub-and-spoke, partial, hybrid');
    expect(() => parseTopology({ mode: 'hub-and-spoke' }, 'cfg')).toThrow('needs at least one selector in topology.hubs');
    expect(() => parseTopology({ mode: 'partial' }, 'cfg')).toThrow('topology.mode partial needs topology.direct');
    expect(() => parseTopology({ mode: 'hybrid', hubs: ['tag:hub'] }, 'cfg')).toThrow('needs both topology.hubs and topology.direct');
    expect(() => parseTopology({ mode: 'hub-and-spoke', hubs: ['hub1'] }, 'cfg')).toThrow('topology.hubs[0] "hub1" is not a selector');
    expect(() => parseTopology({ mode: 'partial', direct: [['tag:a', 'tag:b']] }, 'cfg')).toThrow('links between two sites are hybrid');
    expect(() => parseTopology({ mode: 'full', colour: 'red' }, 'cfg')).toThrow('unknown key "colour"');
    expect(parseTopology({}, 'cfg')).toEqual({ mode: 'full', hubs: [], direct: [] });
  });

  it('takes hubForwarding end-to-end or hop-by-hop (the default, left out) and refuses anything else', () => {
    expect(parseTopology({ mode: 'hub-and-spoke', hubs: ['tag:hub'], hubForwarding: 'end-to-end' }, 'cfg')).toEqual({ mode: 'hub-and-spoke', hubs: ['tag:hub'], direct: [], hubForwarding: 'end-to-end' });
    expect(parseTopology({ mode: 'hub-and-spoke', hubs: ['tag:hub'], hubForwarding: 'hop-by-hop' }, 'cfg')).toEqual({ mode: 'hub-and-spoke', hubs: ['tag:hub'], direct: [] });
    expect(() => parseTopology({ mode: 'hub-and-spoke', hubs: ['tag:hub'], hubForwarding: 'onion' }, 'cfg')).toThrow('topology.hubForwarding "onion" is not one of hop-by-hop, end-to-end');
    expect(() => parseTopology({ mode: 'partial', direct: ['tag:dc'], hubForwarding: 'end-to-end' }, 'cfg')).toThrow('topology.hubForwarding end-to-end needs hubs');
    expect(topology({ mode: 'hub-and-spoke', hubs: ['tag:hub'], hubForwarding: 'end-to-end' }).describe()).toBe('hub-and-spoke; hubs tag:hub; hubs forward end to end');
  });

  it('names the hubs and direct selectors that match no node', () => {
    const infos = [nodeInfoOf(node(1, ['tag:hub'])), nodeInfoOf(node(2, ['tag:dc']))];
    expect(unmatchedSelectors(parseTopology({ mode: 'hybrid', hubs: ['tag:hub', 'node:ghost'], direct: ['tag:dc', ['tag:dc', 'tag:office']] }, 't'), infos)).toEqual([
      'topology.hubs[1] "node:ghost"',
      'topology.direct[1][1] "tag:office"',
    ]);
    expect(unmatchedSelectors(parseTopology({ mode: 'hub-and-spoke', hubs: ['node:node-1'] }, 't'), infos)).toEqual([]);
  });
});

describe('the pair decision', () => {
  const info = (i: number, tags: string[]): NodeInfo => nodeInfoOf(node(i, tags));
  const hub = info(1, ['tag:hub']);
  const a = info(2, ['tag:dc']);
  const b = info(3, ['tag:dc']);
  const c = info(4, ['tag:office']);
  const path = (t: Topology, x: NodeInfo, y: NodeInfo, access = true, active: string | null = hub.id) => t.path(t.roleOf(x), t.roleOf(y), access, active);

  it('full mesh: every allowed pair is direct, a pair access refuses never talks', () => {
    expect(path(FULL_MESH_TOPOLOGY, a, c)).toEqual({ kind: 'direct' });
    expect(path(FULL_MESH_TOPOLOGY, a, c, false)).toEqual({ kind: 'none' });
  });

  it('hub-and-spoke: hubs are direct with everyone, spokes go through the active hub', () => {
    const t = topology({ mode: 'hub-and-spoke', hubs: ['tag:hub'] });
    expect(path(t, hub, a)).toEqual({ kind: 'direct' });
    expect(path(t, a, b)).toEqual({ kind: 'hub', hub: hub.id });
    expect(path(t, a, b, true, null)).toEqual({ kind: 'none' });
    // The topology never widens access: a refused pair stays refused through the hub.
    expect(path(t, a, c, false)).toEqual({ kind: 'none' });
  });

  it('partial: only listed nodes are direct; without hubs the rest cannot talk', () => {
    const t = topology({ mode: 'partial', direct: ['tag:dc'] });
    expect(path(t, a, b, true, null)).toEqual({ kind: 'direct' });
    expect(path(t, a, c, true, null)).toEqual({ kind: 'none' });
    const withHub = topology({ mode: 'partial', hubs: ['tag:hub'], direct: ['tag:dc'] });
    expect(path(withHub, a, c)).toEqual({ kind: 'hub', hub: hub.id });
    // Every listed node is direct with every other listed node, whichever selector lists it.
    const two = topology({ mode: 'partial', direct: ['tag:dc', 'tag:office'] });
    expect(path(two, a, c, true, null)).toEqual({ kind: 'direct' });
    expect(path(two, a, info(9, ['tag:lab']), true, null)).toEqual({ kind: 'none' });
  });

  it('hybrid: hubs plus direct links between chosen sites', () => {
    const t = topology({ mode: 'hybrid', hubs: ['tag:hub'], direct: [['tag:dc', 'tag:office']] });
    expect(path(t, a, c)).toEqual({ kind: 'direct' });
    expect(path(t, c, a)).toEqual({ kind: 'direct' });
    // A link between two sites does not link a site's own nodes.
    expect(path(t, a, b)).toEqual({ kind: 'hub', hub: hub.id });
  });

  it('chooses the online hub of lowest rank, then id, and an offline one only when none is online', () => {
    expect(chooseHub([])).toBeNull();
    expect(chooseHub([{ id: 'b', rank: 0, online: true }, { id: 'a', rank: 1, online: true }])).toBe('b');
    expect(chooseHub([{ id: 'b', rank: 0, online: true }, { id: 'a', rank: 0, online: true }])).toBe('a');
    expect(chooseHub([{ id: 'b', rank: 0, online: false }, { id: 'a', rank: 1, online: true }])).toBe('a');
    expect(chooseHub([{ id: 'b', rank: 1, online: false }, { id: 'a', rank: 0, online: false }])).toBe('a');
  });
});

describe('topologies in the map pipeline', () => {
  it('a 100-node hub-and-spoke mesh with 2 hubs configures 2 peers per spoke and routes the overlay through the first hub', async () => {
    const nodes = Array.from({ length: 100 }, (_, i) => node(i, i < 2 ? ['tag:hub'] : ['tag:spoke']));
    const t = topology({ mode: 'hub-and-spoke', hubs: ['tag:hub'] });
    const mesh = await build(nodes, t);
    expect(peers(mesh, 'n050')).toEqual(['node-0', 'node-1']);
    expect(mesh.mapOf('n000')!.peers).toHaveLength(99);
    expect(mesh.mapOf('n000')!.self.hub).toBe(true);
    expect(mesh.mapOf('n050')!.peers.every((p) => p.hub === true)).toBe(true);
    expect(mesh.mapOf('n050')!.routes).toEqual([
      { prefix: OVERLAY.ipv4Cidr, via: 'n000', kind: 'transit' },
      { prefix: OVERLAY.ipv6Prefix, via: 'n000', kind: 'transit' },
    ]);
    expect(mesh.mapOf('n000')!.routes).toEqual([]);
    // The spoke's WireGuard config: the hub carries the overlay, the other hub only its own addresses.
    const wg = toWgConfig(mesh.mapOf('n050')!, { acceptRoutes: false } as never, 'priv', 51820);
    expect(wg.peers.map((p) => p.allowedIps)).toEqual([
      ['100.64.0.1/32', 'fd7a:7e11:5000::1/128', OVERLAY.ipv4Cidr, OVERLAY.ipv6Prefix],
      ['100.64.0.2/32', 'fd7a:7e11:5000::2/128'],
    ]);
    const figures = topologyFigures(mesh);
    expect(figures.roles).toEqual([
      { role: 'hub', nodes: 2, meanPeers: 99, maxPeers: 99 },
      { role: 'spoke', nodes: 98, meanPeers: 2, maxPeers: 2 },
    ]);
    expect(figures.spokesWithoutHub).toBe(0);
    const view = topologyView(mesh, t.config, mesh.nodes.get('n050')!);
    expect(view.activeHub).toBe('node-0');
    expect(view.nodes.find((n) => n.name === 'node-50')).toMatchObject({ role: 'spoke', peers: 2, via: 'node-0' });
    expect(view.paths!.filter((p) => p.path === 'direct').map((p) => p.peer)).toEqual(['node-0', 'node-1']);
    expect(view.paths!.find((p) => p.peer === 'node-51')).toMatchObject({ path: 'hub', via: 'node-0' });
  });

  it('end to end: a 100-node mesh with 2 relay hubs still configures 2 peers per spoke; the other 97 spokes are offered on demand', async () => {
    const nodes = Array.from({ length: 100 }, (_, i) => node(i, i < 2 ? ['tag:hub'] : ['tag:spoke'], i < 2 ? { relay: { port: 3478 } } : {}));
    const t = topology({ mode: 'hub-and-spoke', hubs: ['tag:hub'], hubForwarding: 'end-to-end' });
    const mesh = await build(nodes, t);
    expect(peers(mesh, 'n050')).toEqual(['node-0', 'node-1']);
    const offer = mesh.mapOf('n050')!.onDemand!;
    expect(offer).toHaveLength(97);
    expect(offer.some((o) => o.id === 'n050' || o.id === 'n000')).toBe(false);
    expect(offer.every((o) => o.via.join() === 'n000,n001')).toBe(true);
    // The transit route stays: traffic goes through the hub until the pair is up end to end.
    expect(mesh.mapOf('n050')!.routes.map((r) => r.kind)).toEqual(['transit', 'transit']);
    expect(topologyFigures(mesh).roles.find((r) => r.role === 'spoke')).toMatchObject({ meanPeers: 2, maxPeers: 2 });
    // Alike spokes share one list: a full map of each costs no per-node list but its own removal.
    expect(mesh.onDemandOf(mesh.nodes.get('n050')!.cls)).toBe(mesh.onDemandOf(mesh.nodes.get('n051')!.cls));
  });

  it('moves the spokes to the second hub when the first is offline', async () => {
    const nodes = Array.from({ length: 6 }, (_, i) => node(i, i < 2 ? ['tag:hub'] : []));
    const mesh = await build(nodes, topology({ mode: 'hub-and-spoke', hubs: ['tag:hub'] }), { online: (id) => id !== 'n000' });
    expect(mesh.mapOf('n003')!.routes.map((r) => r.via)).toEqual(['n001', 'n001']);
    const none = await build(nodes, topology({ mode: 'hub-and-spoke', hubs: ['tag:hub'] }), { online: () => false });
    expect(topologyFigures(none).spokesWithoutHub).toBe(4);
  });

  it('never widens access: hubs are peers of every spoke, but filters and paths follow the grants', async () => {
    const nodes = [node(0, ['tag:hub']), node(1, []), node(2, []), node(3, [])];
    // One grant: n001 reaches n002. Nobody else reaches anybody.
    const decide = (req: AccessDecisionRequest): AccessDecision => ({
      version: 'v1',
      grants: [{ label: 'a-to-b', proto: 'any', dstPorts: [], srcPrefixes: [] }],
      nodes: new Map(req.nodes.map((n) => [n.id, { src: n.id === 'n001' ? [0] : [], srcByPrefix: [], dst: n.id === 'n002' ? [0] : [] } as NodeGrants])),
    });
    const mesh = await build(nodes, topology({ mode: 'hub-and-spoke', hubs: ['tag:hub'] }), { decide });
    expect(peers(mesh, 'n001')).toEqual(['node-0']);
    expect(peers(mesh, 'n003')).toEqual(['node-0']);
    // n002's filter admits n001 only, whichever tunnel its packets come through.
    expect(mesh.mapOf('n002')!.packetFilter).toEqual([{ srcIps: ['100.64.0.2', 'fd7a:7e11:5000::2'], dstIps: ['100.64.0.3', 'fd7a:7e11:5000::3'], proto: 'any', dstPorts: [] }]);
    expect(mesh.mapOf('n003')!.packetFilter).toEqual([]);
    expect(mesh.mapOf('n000')!.packetFilter).toEqual([]);
    expect(pairPaths(mesh, mesh.nodes.get('n001')!)).toEqual([{ peer: 'node-2', peerId: 'n002', path: 'hub', via: 'node-0' }]);
    expect(pairPaths(mesh, mesh.nodes.get('n003')!)).toEqual([]);
  });

  it('partial: direct tunnels only between the listed tag, nothing else without hubs', async () => {
    const nodes = [node(0, ['tag:dc']), node(1, ['tag:dc']), node(2, ['tag:dc']), node(3, ['tag:office']), node(4, ['tag:office'])];
    const mesh = await build(nodes, topology({ mode: 'partial', direct: ['tag:dc'] }));
    expect(peers(mesh, 'n000')).toEqual(['node-1', 'node-2']);
    expect(peers(mesh, 'n003')).toEqual([]);
    expect(mesh.mapOf('n000')!.routes).toEqual([]);
    expect(topologyView(mesh, mesh.topology.config, null).nodes.map((n) => [n.name, n.role, n.peers])).toEqual([
      ['node-0', 'spoke', 2],
      ['node-1', 'spoke', 2],
      ['node-2', 'spoke', 2],
      ['node-3', 'spoke', 0],
      ['node-4', 'spoke', 0],
    ]);
  });

  it('hybrid: hubs plus direct links between two sites; the rest goes through the hub', async () => {
    const nodes = [node(0, ['tag:hub']), node(1, ['tag:site-a']), node(2, ['tag:site-a']), node(3, ['tag:site-b']), node(4, ['tag:other'])];
    const mesh = await build(nodes, topology({ mode: 'hybrid', hubs: ['tag:hub'], direct: [['tag:site-a', 'tag:site-b']] }));
    expect(peers(mesh, 'n001')).toEqual(['node-0', 'node-3']);
    expect(peers(mesh, 'n003')).toEqual(['node-0', 'node-1', 'node-2']);
    expect(peers(mesh, 'n004')).toEqual(['node-0']);
    expect(mesh.mapOf('n001')!.routes.map((r) => [r.prefix, r.via])).toEqual([[OVERLAY.ipv4Cidr, 'n000'], [OVERLAY.ipv6Prefix, 'n000']]);
    const paths = pairPaths(mesh, mesh.nodes.get('n001')!);
    expect(paths.map((p) => [p.peer, p.path, p.via])).toEqual([
      ['node-0', 'direct', null],
      ['node-2', 'hub', 'node-0'],
      ['node-3', 'direct', null],
      ['node-4', 'hub', 'node-0'],
    ]);
  });

  it('a policy topology overrides the config; an invalid one leaves the one in force', async () => {
    const nodes = [node(0, ['tag:hub']), node(1, []), node(2, [])];
    let given: unknown = { mode: 'hub-and-spoke', hubs: ['tag:hub'] };
    const h = await host({ decideTopology: () => ({ config: given as never, version: 'p1' }) });
    const builder = new MapBuilder(h, () => FULL_MESH_TOPOLOGY, pino({ level: 'silent' }));
    const input = { nodes, presence: () => ({ online: true, lastSeen: null }), overlay: OVERLAY, epoch: 'e', now: NOW };
    const first = await builder.build(input);
    expect(first.topology).toMatchObject({ mode: 'hub-and-spoke', source: 'policy', version: 'p1' });
    expect(first.mapOf('n001')!.peers.map((p) => p.id)).toEqual(['n000']);
    given = { mode: 'ring' };
    const second = await builder.build(input, first);
    expect(second.topology).toBe(first.topology);
    given = null;
    const h2 = await host({ decideTopology: () => null });
    expect((await new MapBuilder(h2, () => FULL_MESH_TOPOLOGY).build(input)).topology).toBe(FULL_MESH_TOPOLOGY);
  });
});

describe('TopologySettings', () => {
  class MetaStore {
    readonly meta = new Map<string, string>();
    readonly audits: AuditEntry[] = [];
    async getMeta(k: string) {
      return this.meta.get(k) ?? null;
    }
    async setMeta(k: string, v: string, audit?: AuditEntry) {
      this.meta.set(k, v);
      if (audit) this.audits.push(audit);
    }
  }
  const log = pino({ level: 'silent' });
  const infos = [nodeInfoOf(node(1, ['tag:hub'])), nodeInfoOf(node(2, ['tag:dc']))];

  it('stores the config file topology, refuses bad input and keeps the topology in force', async () => {
    const store = new MetaStore();
    const s = await TopologySettings.open(store as unknown as Store, parseTopology({ mode: 'hub-and-spoke', hubs: ['tag:hub'] }, 'cfg'), NOW, log);
    expect(s.topology.mode).toBe('hub-and-spoke');
    expect(JSON.parse(store.meta.get(SETTING_TOPOLOGY)!)).toMatchObject({ mode: 'hub-and-spoke' });
    await expect(s.set({ mode: 'mesh' }, infos, 'admin', NOW)).rejects.toThrow(/topology refused: topology.mode "mesh" is not one of full, hub-and-spoke, partial, hybrid; the topology in force stays/);
    await expect(s.set({ mode: 'hub-and-spoke', hubs: ['node:ghost'] }, infos, 'admin', NOW)).rejects.toThrow('topology refused: topology.hubs[0] "node:ghost" matches no node');
    await expect(s.set({ mode: 'partial', direct: ['tag:dc', 'tag:nowhere'] }, infos, 'admin', NOW)).rejects.toMatchObject({ code: 'TRELLIS_ERR_TOPOLOGY_INVALID' });
    expect(s.topology.mode).toBe('hub-and-spoke');
    expect(store.audits).toHaveLength(1);
    await s.set({ mode: 'partial', direct: ['tag:dc'] }, infos, 'admin', NOW);
    expect(s.topology.mode).toBe('partial');
    expect(store.audits[1]).toMatchObject({ action: 'topology.changed', actor: 'admin' });
    // A bad hubForwarding is refused the same way; a good one is stored with the rest.
    await expect(s.set({ mode: 'hub-and-spoke', hubs: ['tag:hub'], hubForwarding: 'sideways' }, infos, 'admin', NOW)).rejects.toThrow('topology refused: topology.hubForwarding "sideways" is not one of hop-by-hop, end-to-end; the topology in force stays');
    expect(s.topology.mode).toBe('partial');
    await s.set({ mode: 'hub-and-spoke', hubs: ['tag:hub'], hubForwarding: 'end-to-end' }, infos, 'admin', NOW);
    expect(s.topology.endToEnd).toBe(true);
    expect(JSON.parse(store.meta.get(SETTING_TOPOLOGY)!)).toMatchObject({ hubForwarding: 'end-to-end' });
    // A restart without a config topology keeps the stored one.
    expect((await TopologySettings.open(store as unknown as Store, undefined, NOW, log)).topology.config).toEqual(s.topology.config);
  });
});
