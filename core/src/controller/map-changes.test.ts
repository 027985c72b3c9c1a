import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import pino from 'pino';
import { definePlugin, type AccessDecision, type AccessDecisionRequest, type NodeGrants, type NodeInfo, type TrellisPlugin } from '../api';
import { applyMapResponse } from '../netmap/delta';
import type { DeltaMapResponse, MapResponse, NetworkMapData } from '../netmap/types';
import { PluginHost } from '../plugins/plugin-host';
import type { NodeRecord, Store } from '../store/store';
import { nodeRecord } from '../store/testing/node-record';
import { MapBuilder } from './map-builder';
import { MapStreamer } from './map-streamer';
import { Presence } from './presence';
import { routesForMesh } from './route-plan';
import { FULL_MESH_TOPOLOGY, parseTopology, Topology } from './topology';

/**
 * Property: applying node changes incrementally gives the same maps, filters and deltas as a full
 * build from the store after every step, with no decider and with a decider that hands out random
 * grants. Each run drives two MapStreamers over one store: A applies node changes incrementally,
 * B rebuilds everything for every batch; an agent's view of A (its first map plus every delta it
 * was sent) is checked too.
 */

const NOW = 1_700_000_000_000;
const TAGS = ['tag:a', 'tag:b', 'tag:c', 'web'];
const USERS = [null, 'alice', 'bob'];
const log = pino({ level: 'silent' });

/** The fake boundary: a store of node records in memory (the streamer reads nodes and groups only). */
class MemoryStore {
  readonly overlay = { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' };
  readonly nodes = new Map<string, NodeRecord>();
  groups: Record<string, string[]> = { alice: ['eng'] };
  async getNode(id: string) {
    return this.nodes.get(id) ?? null;
  }
  async listNodes() {
    return [...this.nodes.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }
  async userGroups() {
    return this.groups;
  }
}

function record(i: number, over: Partial<NodeRecord> = {}): NodeRecord {
  return nodeRecord(i, {
    user: USERS[i % USERS.length]!,
    tags: [TAGS[i % TAGS.length]!],
    // Every third node relays, on a port inside or outside the random grants' port ranges.
    relay: i % 3 === 1 ? { port: 60 + (i % 7) * 25 } : null,
    ...over,
  });
}

/** A small integer hash, so a node's grants are a pure function of what the decider sees of it. */
function hash(...parts: Array<string | number>): number {
  let h = 2166136261;
  for (const c of parts.join('|')) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return h >>> 0;
}

/** A decider that gives random (but per node deterministic) grants: src, srcByPrefix, dst and dstAt. */
function randomDecider(seed: number, grantCount: number, version: () => string) {
  const grants = Array.from({ length: grantCount }, (_, g) => ({
    label: `g${g}`,
    proto: (['tcp', 'udp', 'icmp', 'any'] as const)[hash(seed, g, 'p') % 4]!,
    dstPorts: hash(seed, g, 'a') % 2 === 0 ? [] : [[hash(seed, g, 'lo') % 100, 100 + (hash(seed, g, 'hi') % 100)] as [number, number]],
    srcPrefixes: hash(seed, g, 'x') % 3 === 0 ? ['10.0.0.0/8'] : [],
  }));
  const grantsOf = (n: NodeInfo): NodeGrants => {
    const key = JSON.stringify([n.tags, n.user, n.groups, n.posture?.compliant ?? null, hash(n.id) % 3 === 0 ? n.id : null]);
    const pick = (what: string, g: number, mod: number) => hash(seed, key, what, g) % mod === 0;
    const src: number[] = [];
    const srcByPrefix: number[] = [];
    const dst: number[] = [];
    const dstAt: Record<number, string[]> = {};
    for (let g = 0; g < grantCount; g++) {
      if (pick('s', g, 3)) src.push(g);
      if (grants[g]!.srcPrefixes.length > 0 && pick('p', g, 3)) srcByPrefix.push(g);
      if (pick('d', g, 3)) dst.push(g);
      else if (pick('t', g, 5)) dstAt[g] = pick('r', g, 2) ? [n.addresses.ipv4] : ['10.1.0.0/16', n.addresses.ipv6];
    }
    return { src, srcByPrefix, dst, ...(Object.keys(dstAt).length > 0 ? { dstAt } : {}) };
  };
  return (req: AccessDecisionRequest): AccessDecision => ({
    version: version(),
    grants,
    nodes: new Map(req.nodes.filter((n) => hash(seed, n.id, 'cut') % 11 !== 0).map((n) => [n.id, grantsOf(n)])),
  });
}

type Op =
  | { kind: 'join' }
  | { kind: 'endpoint' | 'online' | 'offline' | 'revoke' | 'approve' | 'unapprove' | 'tags' | 'posture' | 'expire' | 'relay'; at: number; value: number }
  | { kind: 'policy'; value: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.constant<Op>({ kind: 'join' }),
  fc.record({
    kind: fc.constantFrom('endpoint', 'online', 'offline', 'revoke', 'approve', 'unapprove', 'tags', 'posture', 'expire', 'relay'),
    at: fc.nat(),
    value: fc.nat(),
  }) as fc.Arbitrary<Op>,
  fc.record({ kind: fc.constant('policy'), value: fc.nat() }) as fc.Arbitrary<Op>,
);

interface Agent {
  map: NetworkMapData | null;
  deltas: DeltaMapResponse[];
}

/** Deltas sent as packet filter patches over every scenario, so the test knows that path ran. */
let patchesSent = 0;

async function hostFor(plugin: Partial<TrellisPlugin> | null): Promise<PluginHost> {
  const host = new PluginHost('controller', log);
  if (plugin) await host.start([{ plugin: definePlugin({ manifest: { name: 'fake', version: '1.0.0', apiRange: '^1.0.0' }, ...plugin }), config: {} }], {});
  return host;
}

const strip = (m: NetworkMapData | null) => (m ? { ...m, version: 0 } : null);

/**
 * expectEqual is expect(actual).toEqual(expected), asked only when node's strict deep equality
 * fails: strict equality implies toEqual's, and Jest's matcher (there to explain a difference)
 * took four fifths of this file's run time on maps that are equal.
 */
function expectEqual(actual: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual).toEqual(expected);
}

/** expectSame is expect(actual).toBe(expected), asked only when they differ (each expect() call costs a stack capture). */
function expectSame(actual: unknown, expected: unknown): void {
  if (!Object.is(actual, expected)) expect(actual).toBe(expected);
}

/** How many checked maps offered on-demand peers, and deltas that moved an offer (end-to-end hubs). */
let onDemandOffered = 0;
let onDemandDeltas = 0;

async function runScenario(initial: number, withDecider: boolean, seed: number, grantCount: number, steps: Op[][], topology: Topology = FULL_MESH_TOPOLOGY): Promise<void> {
  const store = new MemoryStore();
  for (let i = 0; i < initial; i++) store.nodes.set(record(i).id, record(i, { approved: i % 5 !== 4 }));
  let next = initial;
  let policySeed = seed;
  let version = 'v1';
  const plugin: Partial<TrellisPlugin> = {
    decideAccess: (req) => randomDecider(policySeed, grantCount, () => version)(req),
    mapExtension: (n) => (n.tags.includes('web') ? null : { tags: n.tags.length, quarantined: n.posture?.compliant === false }),
  };
  const host = await hostFor(withDecider ? plugin : { mapExtension: plugin.mapExtension });
  const presence = new Presence();
  const streamer = (share: number) =>
    new MapStreamer({ store: store as unknown as Store, builder: new MapBuilder(host, () => topology), presence, log, clock: () => NOW, batchWindowMs: 1, fullBuildShare: share });
  const a = streamer(1);
  const b = streamer(1);
  // Two agents per node: one of before filter patches, one that takes them (MAP_FEATURE_FILTER_PATCH).
  const agents = new Map<string, Agent>();
  const patching = new Map<string, Agent>();
  const sentByB = new Map<string, DeltaMapResponse[]>();
  const patchesByB = new Map<string, DeltaMapResponse[]>();
  const attach = (id: string) => {
    for (const [filterPatches, into] of [[false, agents], [true, patching]] as const) {
      const agent: Agent = { map: null, deltas: [] };
      into.set(id, agent);
      const first = a.initialResponse(id, null, null)!;
      agent.map = applyMapResponse(null, first);
      a.attach(id, {
        filterPatches,
        send: (r: MapResponse) => {
          if (r.kind === 'delta') {
            // Never both forms in one delta; only streams that asked get patches.
            expectSame(r.packetFilterPatch === undefined || (filterPatches && r.packetFilter === undefined), true);
            if (r.packetFilterPatch) patchesSent++;
          }
          agent.map = applyMapResponse(agent.map, r);
          if (r.kind === 'delta') agent.deltas.push(r);
          if (r.kind === 'delta' && (r.onDemandUpserted || r.onDemandRemoved)) onDemandDeltas++;
        },
        ping() {},
        close: () => into.delete(id),
      });
    }
    sentByB.set(id, []);
    patchesByB.set(id, []);
    b.attach(id, { send: (r: MapResponse) => void (r.kind === 'delta' && sentByB.get(id)?.push(r)), ping() {}, close() {} });
    b.attach(id, { filterPatches: true, send: (r: MapResponse) => void (r.kind === 'delta' && patchesByB.get(id)?.push(r)), ping() {}, close() {} });
  };
  try {
    await a.refresh('start');
    await b.refresh('start');
    for (const id of store.nodes.keys()) if (a.currentMap(id)) attach(id);
    for (const batch of steps) {
      const live = () => [...store.nodes.values()].filter((n) => !n.revoked && (n.expiresAt === null || n.expiresAt > NOW));
      for (const op of batch) {
        if (op.kind === 'join') {
          const r = record(next++, { approved: next % 4 !== 0 });
          store.nodes.set(r.id, r);
          a.nodeChanged(r.id, 'join');
          continue;
        }
        if (op.kind === 'policy') {
          // A decider whose decisions change asks for a rebuild (as posture-opa's policy changes do).
          policySeed = seed + op.value;
          version = `v${op.value}`;
          a.meshChanged('policy');
          continue;
        }
        const nodes = live();
        if (nodes.length === 0) continue;
        const n = nodes[op.at % nodes.length]!;
        const set = (over: Partial<NodeRecord>) => store.nodes.set(n.id, { ...n, ...over });
        if (op.kind === 'endpoint') set({ endpoints: [`198.18.1.${op.value % 250}:${41641 + (op.value % 3)}`] });
        if (op.kind === 'online') presence.connect(n.id, NOW + op.value);
        if (op.kind === 'offline') presence.disconnect(n.id, NOW + op.value);
        if (op.kind === 'revoke') set({ revoked: true, revokedAt: NOW });
        if (op.kind === 'approve') set({ approved: true });
        if (op.kind === 'unapprove') set({ approved: false });
        if (op.kind === 'tags') set({ tags: [TAGS[op.value % TAGS.length]!, ...(op.value % 3 === 0 ? [TAGS[(op.value >> 2) % TAGS.length]!] : [])] });
        if (op.kind === 'posture') set({ posture: op.value % 2 === 0 ? null : { compliant: op.value % 3 !== 0, reasons: op.value % 3 === 0 ? ['disk is not encrypted'] : [] } });
        if (op.kind === 'expire') set({ expiresAt: NOW - 1 });
        if (op.kind === 'relay') set({ relay: op.value % 3 === 0 ? null : { port: 50 + (op.value % 160) } });
        a.nodeChanged(n.id, op.kind);
      }
      await a.settled();
      await b.refresh('compare');
      const reference = await new MapBuilder(host, () => topology).build({
        nodes: await store.listNodes(),
        userGroups: store.groups,
        presence: (n) => presence.state(n.id, n.lastSeen),
        overlay: store.overlay,
        epoch: a.epoch,
        now: NOW,
      });
      // Transit routes of topologies with hubs, as the streamer assigns them after a build.
      const planned = routesForMesh(reference, [], () => new Set());
      for (const n of reference.order) n.routes = planned.get(n.id)!;
      const ids = new Set([...store.nodes.keys()]);
      for (const id of ids) {
        const want = reference.mapOf(id);
        if ((want?.onDemand?.length ?? 0) > 0) onDemandOffered++;
        // The same maps and filters as a full build from scratch.
        expectEqual(strip(a.currentMap(id)), want);
        expectSame(a.currentMap(id)?.version, b.currentMap(id)?.version);
        if (!want) {
          expectSame(agents.has(id), false);
          expectSame(patching.has(id), false);
          continue;
        }
        const agent = agents.get(id);
        if (!agent) {
          attach(id);
          continue;
        }
        // The agent's map (its first map plus every delta) is the current map.
        expectEqual(agent.map, a.currentMap(id));
        // The same deltas as B, which rebuilt everything.
        expectEqual(agent.deltas, sentByB.get(id)!.map((d) => ({ ...d, epoch: a.epoch })));
        // The agent that takes filter patches has the same map, from the same deltas as B sent it.
        const p = patching.get(id)!;
        expectEqual(p.map, a.currentMap(id));
        expectEqual(p.deltas, patchesByB.get(id)!.map((d) => ({ ...d, epoch: a.epoch })));
        // A reconnect from any version in the history composes to the same map, whole filters included.
        for (const d of p.deltas.slice(-3)) {
          const since = a.initialResponse(id, d.baseVersion, a.epoch)!;
          if (since.kind === 'delta') expectSame(since.packetFilterPatch, undefined);
        }
      }
    }
    expect(b.stats().fullBuilds).toBe(b.stats().rebuilds);
  } finally {
    await a.close();
    await b.close();
  }
}

describe('incremental map changes', () => {
  const scenario = fc.record({
    initial: fc.integer({ min: 1, max: 12 }),
    seed: fc.nat(),
    grantCount: fc.integer({ min: 1, max: 6 }),
    steps: fc.array(fc.array(opArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 12 }),
  });

  it('gives the same maps and deltas as a full build after every step, without a decider', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => runScenario(s.initial, false, s.seed, s.grantCount, s.steps)),
      { numRuns: 60 },
    );
  }, 120_000);

  it('gives the same maps, filters and deltas as a full build after every step, with a decider of random grants', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => runScenario(s.initial, true, s.seed, s.grantCount, s.steps)),
      { numRuns: 150 },
    );
    expect(patchesSent).toBeGreaterThan(0);
  }, 240_000);

  // Hubs are tag:a nodes; tag:b nodes link among themselves, tag:c nodes with web nodes: tag changes move roles, presence moves the active hub.
  const hybrid = new Topology(parseTopology({ mode: 'hybrid', hubs: ['tag:a'], direct: ['tag:b', ['tag:c', 'tag:web']] }, 'test'));
  const partial = new Topology(parseTopology({ mode: 'partial', direct: ['tag:b', 'tag:web'] }, 'test'));

  it('gives the same maps, routes and deltas as a full build under a hybrid topology, with and without a decider', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, fc.boolean(), async (s, decided) => runScenario(s.initial, decided, s.seed, s.grantCount, s.steps, hybrid)),
      { numRuns: 80 },
    );
  }, 240_000);

  // End-to-end hubs: spokes' maps offer remote spokes on demand through the tag:a hubs that relay (every third node).
  const endToEnd = new Topology(parseTopology({ mode: 'hybrid', hubs: ['tag:a'], direct: ['tag:b'], hubForwarding: 'end-to-end' }, 'test'));

  it('gives the same maps, on-demand offers and deltas as a full build when hubs forward end to end, with and without a decider', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, fc.boolean(), async (s, decided) => runScenario(s.initial, decided, s.seed, s.grantCount, s.steps, endToEnd)),
      { numRuns: 80 },
    );
    expect(onDemandOffered).toBeGreaterThan(0);
    expect(onDemandDeltas).toBeGreaterThan(0);
  }, 240_000);

  it('gives the same maps and deltas as a full build under a partial topology without hubs', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, fc.boolean(), async (s, decided) => runScenario(s.initial, decided, s.seed, s.grantCount, s.steps, partial)),
      { numRuns: 40 },
    );
  }, 240_000);

  it('falls back to a full build when the decider answers with another version, and above the share of the mesh', async () => {
    const store = new MemoryStore();
    for (let i = 0; i < 20; i++) store.nodes.set(record(i).id, record(i));
    let version = 'v1';
    const asked: Array<AccessDecisionRequest['scope']> = [];
    const decide = randomDecider(7, 3, () => version);
    const host = await hostFor({ decideAccess: (req) => (asked.push(req.scope), decide(req)) });
    const presence = new Presence();
    const s = new MapStreamer({ store: store as unknown as Store, builder: new MapBuilder(host), presence, log, clock: () => NOW, batchWindowMs: 1 });
    try {
      await s.refresh('start');
      expect(s.stats()).toMatchObject({ rebuilds: 1, fullBuilds: 1 });
      // A tag change is decided for that node only.
      const n = store.nodes.get('n003')!;
      store.nodes.set(n.id, { ...n, tags: ['tag:c'] });
      s.nodeChanged(n.id, 'tags');
      await s.settled();
      expect(s.stats()).toMatchObject({ rebuilds: 2, fullBuilds: 1 });
      expect(asked).toEqual(['mesh', 'nodes']);
      // The policy moved without a rebuild request: the node change sees the new version and rebuilds everything.
      version = 'v2';
      store.nodes.set(n.id, { ...n, tags: ['tag:a'] });
      s.nodeChanged(n.id, 'tags');
      await s.settled();
      expect(s.stats()).toMatchObject({ rebuilds: 3, fullBuilds: 2 });
      expect(asked).toEqual(['mesh', 'nodes', 'nodes', 'mesh']);
      // An endpoint change asks the decider nothing.
      store.nodes.set('n004', { ...store.nodes.get('n004')!, endpoints: ['198.18.9.9:1'] });
      s.nodeChanged('n004', 'endpoint');
      await s.settled();
      expect(asked).toHaveLength(4);
      expect(s.stats()).toMatchObject({ rebuilds: 4, fullBuilds: 2 });
      // More than 8 nodes and more than an eighth of the mesh changed at once: one full build.
      for (let i = 0; i < 9; i++) store.nodes.set(record(100 + i).id, record(100 + i));
      for (let i = 0; i < 9; i++) s.nodeChanged(record(100 + i).id, 'join');
      await s.settled();
      expect(s.stats()).toMatchObject({ rebuilds: 5, fullBuilds: 3, nodes: 29 });
    } finally {
      await s.close();
    }
  });
});
