import pino from 'pino';
import { definePlugin, type AccessDecision, type AccessGrant, type NodeGrants } from '../api';
import type { NodeRecord } from '../store/store';
import { nodeRecord } from '../store/testing/node-record';
import { PluginHost } from '../plugins/plugin-host';
import { MapBuilder, type Mesh } from './map-builder';
import { applyNodeChanges } from './map-changes';

const NOW = 1_700_000_000_000;
const log = pino({ level: 'silent' });
const RELAY_PORT = 51821;

/** Node `id`, numbered i, relaying on port `relay`. */
const record = (id: string, i: number, relay: number | null = null): NodeRecord => nodeRecord(i, { id, name: id, relay: relay === null ? null : { port: relay } });

const grant = (label: string, proto: AccessGrant['proto'], dstPorts: Array<[number, number]> = []): AccessGrant => ({ label, proto, dstPorts, srcPrefixes: [] });
const ng = (src: number[], dst: number[]): NodeGrants => ({ src, srcByPrefix: [], dst });

async function build(nodes: NodeRecord[], decision: AccessDecision | null): Promise<{ mesh: Mesh; builder: MapBuilder }> {
  const host = new PluginHost('controller', log);
  if (decision) {
    await host.start([{ plugin: definePlugin({ manifest: { name: 'fake-decider', version: '1.0.0', apiRange: '^1.0.0' }, decideAccess: () => decision }), config: {} }], {});
  }
  const builder = new MapBuilder(host);
  const mesh = await builder.build({ nodes, presence: () => ({ online: true, lastSeen: NOW }), overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' }, epoch: 'e', now: NOW });
  return { mesh, builder };
}

const peer = (mesh: Mesh, of: string, id: string) => mesh.mapOf(of)!.peers.find((p) => p.id === id);

describe('relay plan: which relays may serve which pairs', () => {
  it('without an access decider every relay serves every pair of its peers', async () => {
    const { mesh } = await build([record('a', 1), record('b', 2), record('c', 3), record('r', 9, RELAY_PORT)], null);
    expect(mesh.mapOf('r')!.self.relayPairs).toEqual({ groups: [['a', 'b', 'c']], links: [[0, 0]] });
    expect(peer(mesh, 'a', 'b')!.relayedBy).toEqual(['r']);
    expect(mesh.mapOf('a')!.self.relayedBy).toEqual(['r']);
    // The relay itself is not served by itself; a node that is no relay has no pairs.
    expect(peer(mesh, 'a', 'r')!.relayedBy).toBeUndefined();
    expect(mesh.mapOf('r')!.self.relayedBy).toEqual([]);
    expect(mesh.mapOf('a')!.self.relayPairs).toBeUndefined();
  });

  it("serves a pair only when both ends are peers and the relay's packet filter accepts both on its relay port (udp)", async () => {
    // g0: a, b, d and r see each other on tcp (no relay use); g1: a and b may send udp to r's relay
    // port; g2: d may send udp to r on another port only; g3: c may use the relay but sees only r.
    const decision: AccessDecision = {
      version: 'v1',
      grants: [grant('mesh', 'tcp'), grant('relay-use', 'udp', [[RELAY_PORT, RELAY_PORT]]), grant('dns', 'udp', [[53, 53]]), grant('c-relay', 'any')],
      nodes: new Map([
        ['a', ng([0, 1], [0])],
        ['b', ng([0, 1], [0])],
        ['c', ng([3], [])],
        ['d', ng([0, 2], [0])],
        ['r', ng([0], [0, 1, 2, 3])],
      ]),
    };
    const { mesh } = await build([record('a', 1), record('b', 2), record('c', 3), record('d', 4), record('r', 9, RELAY_PORT)], decision);
    // a and b (one class) are a pair; c is served but is no one's peer but the relay's; d's udp grant is for port 53.
    expect(mesh.mapOf('r')!.self.relayPairs).toEqual({ groups: [['a', 'b'], ['c']], links: [[0, 0]] });
    expect(peer(mesh, 'a', 'b')!.relayedBy).toEqual(['r']);
    expect(peer(mesh, 'a', 'd')!.relayedBy).toBeUndefined();
    expect(mesh.mapOf('d')!.self.relayedBy).toEqual([]);
    expect(mesh.mapOf('c')!.self.relayedBy).toEqual(['r']);
  });

  it('follows incremental changes: a node that joins, changes class or leaves changes the relay pairs, a relay change rebuilds', async () => {
    const decision = (nodes: string[]): AccessDecision => ({
      version: 'v1',
      grants: [grant('all', 'any')],
      nodes: new Map(nodes.map((id) => [id, ng([0], [0])])),
    });
    let d = decision(['a', 'b', 'r']);
    const host = new PluginHost('controller', log);
    await host.start([{ plugin: definePlugin({ manifest: { name: 'fake-decider', version: '1.0.0', apiRange: '^1.0.0' }, decideAccess: (req) => ({ ...d, nodes: new Map([...d.nodes].filter(([id]) => req.nodes.some((n) => n.id === id))) }) }), config: {} }], {});
    const builder = new MapBuilder(host);
    const nodes = [record('a', 1), record('b', 2), record('r', 9, RELAY_PORT)];
    const mesh = await builder.build({ nodes, presence: () => ({ online: true, lastSeen: NOW }), overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' }, epoch: 'e', now: NOW });
    expect(mesh.mapOf('r')!.self.relayPairs).toEqual({ groups: [['a', 'b']], links: [[0, 0]] });
    d = decision(['a', 'b', 'c', 'r']);
    const joined = await applyNodeChanges(mesh, builder, { records: new Map([['c', record('c', 3)]]), presence: () => ({ online: true, lastSeen: NOW }), now: NOW });
    expect(joined).not.toBeNull();
    // The relay is told its new pairs in a delta of its own self; c's entry reaches a and b naming the relay.
    expect(joined!.changes.get('r')!.self!.relayPairs).toEqual({ groups: [['a', 'b', 'c']], links: [[0, 0]] });
    expect(joined!.changes.get('a')!.peersUpserted.find((p) => p.id === 'c')!.relayedBy).toEqual(['r']);
    const left = await applyNodeChanges(mesh, builder, { records: new Map([['c', { ...record('c', 3), revoked: true }]]), presence: () => ({ online: true, lastSeen: NOW }), now: NOW });
    expect(left!.changes.get('r')!.self!.relayPairs).toEqual({ groups: [['a', 'b']], links: [[0, 0]] });
    // The relay moving to another port changes which grants admit nodes to it: a full build.
    expect(await applyNodeChanges(mesh, builder, { records: new Map([['r', record('r', 9, 4000)]]), presence: () => ({ online: true, lastSeen: NOW }), now: NOW })).toBeNull();
    // A presence change of the relay is no such change.
    expect(await applyNodeChanges(mesh, builder, { records: new Map([['r', record('r', 9, RELAY_PORT)]]), presence: () => ({ online: false, lastSeen: NOW }), now: NOW })).not.toBeNull();
  });
});
