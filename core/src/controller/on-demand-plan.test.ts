import pino from 'pino';
import { definePlugin, type AccessDecision, type AccessGrant, type NodeGrants } from '../api';
import { applyMapResponse } from '../netmap/delta';
import type { NetworkMapData } from '../netmap/types';
import { PluginHost } from '../plugins/plugin-host';
import type { NodeRecord } from '../store/store';
import { composeDeltas } from './delta-history';
import { MapBuilder, type Mesh } from './map-builder';
import { applyNodeChanges } from './map-changes';
import { diffMeshes } from './mesh-diff';
import { parseTopology, Topology } from './topology';

const NOW = 1_700_000_000_000;
const log = pino({ level: 'silent' });
const RELAY_PORT = 51821;
const overlay = { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' };

function record(id: string, i: number, over: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id, name: id, hostname: id, user: null, tags: [], wgKey: `key-${id}`, identityKey: `idk-${id}`,
    ipv4: `100.64.0.${i}`, ipv6: `fd7a:7e11:5000::${i}`, endpoints: [`198.18.0.${i}:51820`], authKeyId: null, lastSeen: null,
    createdAt: NOW, expiresAt: null, revoked: false, revokedAt: null, facts: null, posture: null, relay: null, ...over,
  };
}

const grant = (label: string, proto: AccessGrant['proto']): AccessGrant => ({ label, proto, dstPorts: [], srcPrefixes: [] });
const ng = (src: number[], dst: number[]): NodeGrants => ({ src, srcByPrefix: [], dst });

const topo = (hubForwarding?: 'end-to-end' | 'hop-by-hop', hubs = ['node:h1', 'node:h2']) =>
  new Topology(parseTopology({ mode: 'hub-and-spoke', hubs, ...(hubForwarding ? { hubForwarding } : {}) }, 'test'));

async function builderFor(decision: AccessDecision | null, topology: Topology): Promise<MapBuilder> {
  const host = new PluginHost('controller', log);
  if (decision) {
    await host.start([{ plugin: definePlugin({ manifest: { name: 'fake-decider', version: '1.0.0', apiRange: '^1.0.0' }, decideAccess: () => decision }), config: {} }], {});
  }
  return new MapBuilder(host, () => topology);
}

const build = (builder: MapBuilder, nodes: NodeRecord[], previous: Mesh | null = null) =>
  builder.build({ nodes, presence: () => ({ online: true, lastSeen: NOW }), overlay, epoch: 'e', now: NOW }, previous);

/**
 * Hubs h1 (relay) and h2 (relay), spokes a, b, c. Grant 0 (any): a and b among themselves and
 * with the hubs; grant 1 (any): c with the hubs only. So a-b may talk, c with neither.
 */
const nodes = () => [
  record('a', 1), record('b', 2), record('c', 3),
  record('h1', 10, { relay: { port: RELAY_PORT } }), record('h2', 11, { relay: { port: RELAY_PORT } }),
];
const decision: AccessDecision = {
  version: 'v1',
  grants: [grant('spokes', 'any'), grant('c-hubs', 'any')],
  nodes: new Map([
    ['a', ng([0], [0])],
    ['b', ng([0], [0])],
    ['c', ng([1], [])],
    ['h1', ng([0, 1], [0, 1])],
    ['h2', ng([0, 1], [0, 1])],
  ]),
};

/** servedPairs: the pairs a relay's plan lets its forwarder carry, as "x-y" sorted. */
function servedPairs(mesh: Mesh, relay: string): string[] {
  const plan = mesh.mapOf(relay)!.self.relayPairs!;
  const pairs = new Set<string>();
  plan.links.forEach(([i, j]) => plan.groups[i]!.forEach((x) => plan.groups[j]!.forEach((y) => x !== y && pairs.add([x, y].sort().join('-')))));
  return [...pairs].sort();
}

describe('on-demand plan: end-to-end hubs', () => {
  it('offers each spoke the remote spokes access allows, through the relay hubs, without configuring them', async () => {
    const mesh = await build(await builderFor(decision, topo('end-to-end')), nodes());
    const a = mesh.mapOf('a')!;
    // At rest a spoke configures its hubs only.
    expect(a.peers.map((p) => p.id)).toEqual(['h1', 'h2']);
    expect(a.onDemand).toEqual([{ id: 'b', name: 'b', wgKey: 'key-b', allowedIps: ['100.64.0.2/32', 'fd7a:7e11:5000::2/128'], via: ['h1', 'h2'] }]);
    expect(mesh.mapOf('b')!.onDemand!.map((o) => o.id)).toEqual(['a']);
    // A pair the access policy forbids is offered to neither end.
    expect(mesh.mapOf('c')!.onDemand).toEqual([]);
    // Hubs are peers of everyone and are offered nothing.
    expect(mesh.mapOf('h1')!.onDemand).toEqual([]);
    // Each hub's relay serves the allowed spoke pair (a, b) beside its peers' pairs with the other hub; c never with a or b.
    expect(servedPairs(mesh, 'h1')).toEqual(['a-b', 'a-h2', 'b-h2', 'c-h2']);
  });

  it('hop by hop (the default) offers nothing and the hub relay serves no spoke pair', async () => {
    const mesh = await build(await builderFor(decision, topo()), nodes());
    expect(mesh.mapOf('a')!.onDemand).toBeUndefined();
    expect(mesh.mapOf('a')!.peers.map((p) => p.id)).toEqual(['h1', 'h2']);
    expect(servedPairs(mesh, 'h1')).toEqual(['a-h2', 'b-h2', 'c-h2']);
  });

  it('lists only hubs that relay, in the order of the hubs selectors; none without a relay hub', async () => {
    const noRelay = nodes().map((n) => (n.id === 'h1' ? { ...n, relay: null } : n));
    const mesh = await build(await builderFor(decision, topo('end-to-end', ['node:h2', 'node:h1'])), noRelay);
    expect(mesh.mapOf('a')!.onDemand!.map((o) => o.via)).toEqual([['h2']]);
    const none = await build(await builderFor(decision, topo('end-to-end')), nodes().map((n) => ({ ...n, relay: null })));
    expect(none.mapOf('a')!.onDemand).toEqual([]);
  });

  it('a joining spoke reaches every other spoke as one upserted entry, in deltas equal to a full build', async () => {
    const builder = await builderFor(null, topo('end-to-end'));
    const before = nodes();
    const mesh = await build(builder, before);
    const first = new Map(mesh.order.map((n) => [n.id, mesh.mapOf(n.id)!]));
    const reference = await build(builder, before);
    const d = record('d', 4);
    const update = (await applyNodeChanges(mesh, builder, { records: new Map([['d', d]]), presence: () => ({ online: true, lastSeen: NOW }), now: NOW }))!;
    expect(update.joined).toEqual(['d']);
    const entryD = mesh.mapOf('a')!.onDemand!.find((o) => o.id === 'd')!;
    for (const id of ['a', 'b', 'c']) {
      const change = update.changes.get(id)!;
      expect(change.onDemandUpserted).toEqual([entryD]);
      expect(change.peersUpserted).toEqual([]);
      expect(change.onDemandRemoved).toBeUndefined();
      const applied = applyMapResponse(first.get(id)!, { kind: 'delta', epoch: 'e', baseVersion: 0, version: 1, ...change });
      expect(applied.onDemand).toEqual(mesh.mapOf(id)!.onDemand);
    }
    // The same change as a full build diffed against the last.
    const full = diffMeshes(reference, await build(builder, [...before, d], reference));
    for (const id of ['a', 'b', 'c']) expect(full.get(id)!.onDemandUpserted).toEqual([entryD]);
    // The hubs learn d as a peer and their relays serve its pairs.
    expect(update.changes.get('h1')!.peersUpserted.map((p) => p.id)).toEqual(['d']);
    expect(servedPairs(mesh, 'h1').filter((p) => p.includes('d'))).toEqual(['a-d', 'b-d', 'c-d', 'd-h2']);
    // A spoke that leaves goes from every offer.
    const gone = (await applyNodeChanges(mesh, builder, { records: new Map([['b', null]]), presence: () => ({ online: true, lastSeen: NOW }), now: NOW }))!;
    expect(gone.changes.get('a')!.onDemandRemoved).toEqual(['b']);
  });

  it('switching hop by hop to end to end sends the offer whole, and back sends null; deltas compose', async () => {
    const hop = await build(await builderFor(decision, topo()), nodes());
    const e2e = await build(await builderFor(decision, topo('end-to-end')), nodes(), hop);
    const on = diffMeshes(hop, e2e).get('a')!;
    expect(on.onDemand).toEqual(e2e.mapOf('a')!.onDemand);
    const off = diffMeshes(e2e, hop).get('a')!;
    expect(off.onDemand).toBeNull();
    const start: NetworkMapData = { ...hop.mapOf('a')!, version: 1 };
    const d1 = { kind: 'delta' as const, epoch: 'e', baseVersion: 1, version: 2, ...on };
    const d2 = { kind: 'delta' as const, epoch: 'e', baseVersion: 2, version: 3, ...off };
    const mid = applyMapResponse(start, d1);
    expect(mid.onDemand).toEqual(e2e.mapOf('a')!.onDemand);
    const end = applyMapResponse(mid, d2);
    expect(end.onDemand).toBeUndefined();
    expect(applyMapResponse(start, composeDeltas([d1, d2])).onDemand).toBeUndefined();
    expect(applyMapResponse(start, composeDeltas([d1])).onDemand).toEqual(mid.onDemand);
  });
});
