import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { MapsBuildContext, NetworkMapData, NodeInfo, PeerNode, PluginLogger } from '@trellis/core/api';
import { ControllerPolicy, DECISION_ENTRYPOINT, NETMAP_INDEX_ENTRYPOINT, netmapsInput, NETMAPS_ENTRYPOINT } from './controller-policy';
import { expandClasses, indexFromPairs, materialize, netmapsFromIndex, partitionNodes, repInput } from './netmap-classes';
import type { RegoNetmap } from './netmap-view';
import { compilePolicies } from './opa-cli';
import { loadPolicyBundle, type PolicyBundle } from './policy-bundle';
import { PolicyEvaluator } from './wasm-evaluator';

const POLICIES = resolve(__dirname, '../../../policies');
let tmp: string;
let bundlePath: string;
let bundle: PolicyBundle;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'trellis-classes-'));
  ({ bundlePath } = await compilePolicies(POLICIES, { outFile: join(tmp, 'bundle.tgz') }));
  bundle = await loadPolicyBundle(bundlePath);
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** mulberry32: seeded, so a failing mesh can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomMesh(seed: number, size: number) {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const some = <T>(xs: readonly T[], max: number): T[] => [...new Set(Array.from({ length: Math.floor(rand() * (max + 1)) }, () => pick(xs)))];
  const users = ['alice', 'bob', 'carol', 'dave', 'ops', 'erin@example.com', 'frank', 'grace'];
  const tags = ['tag:server', 'tag:db', 'web', 'tag:ci', 'tag:quarantine', 'tag:remediation'];
  const groups = ['eng', 'group:sre', 'sales'];
  const nodes: NodeInfo[] = Array.from({ length: size }, (_, i) => ({
    id: `n${String(i).padStart(4, '0')}`,
    name: `host-${i}`,
    user: rand() < 0.7 ? pick(users) : null,
    groups: some(groups, 2),
    tags: some(tags, 2),
    addresses: { ipv4: `100.64.${Math.floor(i / 100)}.${(i % 100) + 1}`, ipv6: `fd7a:115c:a1e0::${(i + 1).toString(16)}` },
    posture: rand() < 0.05 ? { compliant: false, reasons: ['old kernel'], policyVersion: 'x' } : null,
    approved: rand() > 0.03,
  }));
  const selectors = [
    '*', 'user:alice', 'user:bob', 'erin@example.com', 'group:eng', 'group:sre', 'group:sales', 'group:remediation', 'tag:server', 'tag:db',
    'tag:web', 'tag:ci', 'tag:remediation', `node:host-${Math.floor(rand() * size)}`, `node:n${String(Math.floor(rand() * size)).padStart(4, '0')}`,
    '100.64.0.0/24', '100.64.1.0/25', `100.64.0.${1 + Math.floor(rand() * 50)}`, 'fd7a:115c:a1e0::/120', 'fd7a:115c:a1e0::/64', '10.0.0.0/8',
  ];
  const portSpecs = ['22', '53', 443, '1000-2000', '*', '80-80', '5432'];
  const rule = () => ({
    ...(rand() < 0.5 ? { name: `r${Math.floor(rand() * 50)}` } : {}),
    src: some(selectors, 2).concat(pick(selectors)),
    dst: some(selectors, 2).concat(pick(selectors)),
    proto: pick(['tcp', 'udp', 'icmp', 'any', 'tcp']),
    ports: rand() < 0.05 ? ['bad'] : some(portSpecs, 2).concat(pick(portSpecs)),
  });
  const acls = {
    groups: { eng: some(users, 3), remediation: ['ops'], sales: some(users, 2) },
    rules: Array.from({ length: 1 + Math.floor(rand() * 8) }, rule),
    quarantine: rand() < 0.8 ? { tags: ['tag:quarantine'], remediation: some(['group:remediation', 'tag:remediation', '100.64.1.0/25'], 2) } : {},
  };
  return { nodes, acls };
}

async function evaluatorWith(acls: unknown): Promise<PolicyEvaluator> {
  const ev = await PolicyEvaluator.fromBundle(bundle);
  const data = ev.currentData as { trellis: Record<string, unknown> };
  ev.setData({ trellis: { ...data.trellis, acls } });
  return ev;
}

describe('netmap classes', () => {
  it('gives exactly the peers and packet filters of netmaps evaluated over every node, on random meshes', async () => {
    let compared = 0;
    for (let seed = 1; seed <= 8; seed++) {
      const { nodes, acls } = randomMesh(seed * 7919, 150 + seed * 25);
      const ev = await evaluatorWith(acls);
      const input = netmapsInput(nodes);
      const direct = ev.evaluate<Record<string, RegoNetmap>>(NETMAPS_ENTRYPOINT, input)!;
      const partition = partitionNodes(input.nodes, acls);
      expect(partition).not.toBeNull();
      expect(partition!.classes.length).toBeLessThan(input.nodes.length);
      const reps = ev.evaluate<Record<string, RegoNetmap>>(NETMAPS_ENTRYPOINT, repInput(partition!))!;
      const view = expandClasses(partition!, reps);
      expect(view).not.toBeNull();
      const classes = materialize(view!, input.nodes.map((n) => n.id as string));
      // The same through the per-rule pairs, expanded in TypeScript (the controller's path).
      const index = indexFromPairs(ev.evaluate(NETMAP_INDEX_ENTRYPOINT, repInput(partition!)));
      expect(index).not.toBeNull();
      const fromIndex = netmapsFromIndex(partition!, index);
      expect(fromIndex).not.toBeNull();
      // Its peers (built when read) are the policy's own for each class's first representative.
      for (const c of partition!.classes) expect(fromIndex![c.reps[0]!.id]!.peers).toEqual(reps[c.reps[0]!.id]!.peers);
      const pairView = expandClasses(partition!, fromIndex!);
      expect(pairView).not.toBeNull();
      const viaPairs = materialize(pairView!, input.nodes.map((n) => n.id as string));
      for (const id of Object.keys(direct)) {
        const want = { ...direct[id]!, peers: direct[id]!.peers, packetFilter: direct[id]!.packetFilter };
        if (JSON.stringify(sortKeys(classes[id])) !== JSON.stringify(sortKeys(want))) {
          throw new Error(`seed ${seed * 7919}, node ${id}: class path ${JSON.stringify(classes[id])}\n direct ${JSON.stringify(want)}`);
        }
        if (JSON.stringify(sortKeys(viaPairs[id])) !== JSON.stringify(sortKeys(want))) {
          throw new Error(`seed ${seed * 7919}, node ${id}: pairs path ${JSON.stringify(viaPairs[id])}\n direct ${JSON.stringify(want)}`);
        }
        compared++;
      }
      expect(Object.keys(classes).sort()).toEqual(Object.keys(direct).sort());
    }
    expect(compared).toBeGreaterThan(1000);
  }, 120_000);

  it('falls back (null) when addresses repeat or a CIDR selector cannot be read exactly', () => {
    const { nodes, acls } = randomMesh(42, 20);
    const input = netmapsInput(nodes);
    const dup = input.nodes.map((n, i) => (i === 1 ? { ...n, addresses: input.nodes[0]!.addresses } : n));
    expect(partitionNodes(dup, acls)).toBeNull();
    expect(partitionNodes(input.nodes, { ...acls, rules: [{ src: ['::ffff:0:0/96'], dst: ['*'] }] })).toBeNull();
    expect(partitionNodes(input.nodes, { ...acls, rules: [{ src: ['010.1.2.3'], dst: ['*'] }] })).toBeNull();
    expect(partitionNodes(input.nodes, acls)).not.toBeNull();
  });

  it('transformMaps gives the same maps by class as over every node (shipped bundle)', async () => {
    const { nodes } = randomMesh(5, 120);
    const bytes = readFileSync(bundlePath);
    const log: PluginLogger = { debug() {}, info() {}, warn() {}, error() {} };
    const access = { registerEngine() {}, active: () => ({ version: bundle.version, bundle: bytes, activatedAt: 0 }), seed: async () => access.active() };
    const peerOf = (n: NodeInfo): PeerNode => ({
      id: n.id, name: n.name, wgKey: 'k', addresses: n.addresses, endpoints: [], allowedIps: [], tags: n.tags, user: n.user, online: true, lastSeen: null,
    });
    const maps: NetworkMapData[] = nodes.map((n) => ({
      version: 0, epoch: 'e', self: { ...peerOf(n), expiresAt: null }, peers: nodes.filter((o) => o.id !== n.id).map(peerOf),
      packetFilter: null, routes: [], extensions: {}, overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:115c:a1e0::/48' },
    }));
    const byClass = new ControllerPolicy({ access, log });
    const direct = new ControllerPolicy({ access, log, netmapClasses: false });
    const a = await byClass.transformMaps(maps, { nodes });
    expect(byClass.lastNetmapsStats?.mode).toBe('classes');
    const b = await direct.transformMaps(maps, { nodes });
    expect(direct.lastNetmapsStats?.mode).toBe('direct');
    const diff = a.findIndex((m, i) => JSON.stringify(sortKeys(m)) !== JSON.stringify(sortKeys(b[i])));
    if (diff >= 0) {
      const brief = (m: NetworkMapData) => ({ self: m.self.id, peers: m.peers.map((p) => p.id), packetFilter: m.packetFilter, ext: m.extensions });
      throw new Error(`map ${diff}: by class ${JSON.stringify(brief(a[diff]!)).slice(0, 3000)}\n direct ${JSON.stringify(brief(b[diff]!)).slice(0, 3000)}`);
    }
    expect(a.some((m) => m.peers.length > 0 && (m.packetFilter ?? []).length > 0)).toBe(true);
    // MapBuilder's lazy full mesh (peers an accessor, shared entries in ctx) gives the same maps.
    const entries = new Map([...nodes].sort((x, y) => (x.id < y.id ? -1 : 1)).map((n) => [n.id, peerOf(n)] as const));
    const lazy = maps.map((m) => {
      const copy = { ...m };
      Object.defineProperty(copy, 'peers', { configurable: true, enumerable: true, get: () => m.peers.filter((p) => nodes.find((n) => n.id === p.id)!.approved) });
      return copy;
    });
    const c = await byClass.transformMaps(lazy, { nodes, peerEntries: entries } as MapsBuildContext);
    // And with MapBuilder's peersWithout, which the class lists go through for nodes that see their own class.
    const withoutCalls: string[] = [];
    const peersWithout = (list: readonly PeerNode[], id: string) => {
      withoutCalls.push(id);
      return Object.freeze(list.filter((p) => p.id !== id)) as PeerNode[];
    };
    const inOrder = [...entries.values()];
    let atCalls = 0;
    const peersAt = (positions: ArrayLike<number>) => {
      atCalls++;
      return Object.freeze(Array.from(positions, (i) => inOrder[i]!)) as PeerNode[];
    };
    const d = await byClass.transformMaps(lazy, { nodes, peerEntries: entries, peersWithout, peersAt } as MapsBuildContext);
    expect(withoutCalls.length).toBeGreaterThan(0);
    expect(atCalls).toBeGreaterThan(0);
    for (const out of [c, d]) {
      out.forEach((m, i) => {
        const self = nodes[i]!;
        const want = self.approved ? b[i]! : { ...b[i]!, peers: [] };
        expect(Object.getOwnPropertyDescriptor(m, 'peers')?.get).toBeUndefined();
        expect(m.peers.map((p) => p.id)).toEqual(want.peers.filter((p) => nodes.find((n) => n.id === p.id)!.approved).map((p) => p.id));
        expect(m.packetFilter).toEqual(want.packetFilter);
        m.peers.forEach((p) => expect(p).toBe(entries.get(p.id)));
      });
    }
    // Nodes that do not go through peersWithout share their class's one frozen list.
    const shared = d.filter((m, i) => nodes[i]!.approved && !withoutCalls.includes(m.self.id) && m.peers.length > 0);
    expect(new Set(shared.map((m) => m.peers)).size).toBeLessThan(shared.length);
    shared.forEach((m) => expect(Object.isFrozen(m.peers)).toBe(true));
  }, 60_000);

  it('decides alike with the index prepared at setData time and with a fresh one (input.acls)', async () => {
    for (let seed = 1; seed <= 4; seed++) {
      const { nodes, acls } = randomMesh(seed * 104729, 60);
      const ev = await evaluatorWith(acls);
      const rand = prng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
      const side = (n: NodeInfo) => ({ node: n.name, user: n.user, groups: n.groups, tags: n.tags, ip: rand() < 0.5 ? n.addresses.ipv4 : n.addresses.ipv6, quarantined: n.posture?.compliant === false });
      let allowed = 0;
      for (let i = 0; i < 150; i++) {
        const input = { src: side(pick(nodes)), dst: { ...side(pick(nodes)), subnets: rand() < 0.1 ? ['100.64.0.0/24'] : [] }, proto: pick(['tcp', 'udp', 'icmp']), port: pick([22, 53, 443, 1500, 5432, 8080]) };
        const prepared = ev.evaluate<{ allow: boolean }>(DECISION_ENTRYPOINT, input);
        expect(prepared).toEqual(ev.evaluate(DECISION_ENTRYPOINT, { ...input, acls }));
        if (prepared?.allow) allowed++;
      }
      expect(allowed).toBeGreaterThan(0);
    }
  }, 60_000);
});

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}
