import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { NetworkMapData, NodeInfo, PeerNode, PluginLogger } from '@trellis/core/api';
import { ControllerPolicy, netmapsInput, NETMAPS_ENTRYPOINT } from './controller-policy';
import { expandClasses, materialize, partitionNodes, repInput } from './netmap-classes';
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
      for (const id of Object.keys(direct)) {
        const want = { ...direct[id]!, peers: direct[id]!.peers, packetFilter: direct[id]!.packetFilter };
        if (JSON.stringify(sortKeys(classes[id])) !== JSON.stringify(sortKeys(want))) {
          throw new Error(`seed ${seed * 7919}, node ${id}: class path ${JSON.stringify(classes[id])}\n direct ${JSON.stringify(want)}`);
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
  }, 60_000);
});

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}
