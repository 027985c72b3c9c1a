import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AccessDecision, NodeGrants, NodeInfo, PluginLogger } from '@trellis/core/api';
import { ControllerPolicy, DECISION_ENTRYPOINT, evaluateGrants, netmapsInput, nodeReadsOf } from './controller-policy';
import { partitionNodes } from './node-classes';
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

/** The grants of every node as plain values, for comparing two decisions. */
function grantsByNode(nodes: ReadonlyMap<string, NodeGrants>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [id, ng] of [...nodes].sort((a, b) => (a[0] < b[0] ? -1 : 1))) out[id] = sortKeys({ ...ng });
  return out;
}

describe('node classes', () => {
  it('gives every node exactly the grants of an evaluation over every node, on random meshes', async () => {
    let compared = 0;
    for (let seed = 1; seed <= 8; seed++) {
      const { nodes, acls } = randomMesh(seed * 7919, 150 + seed * 25);
      const ev = await evaluatorWith(acls);
      const approved = nodes.filter((n) => n.approved);
      const reads = nodeReadsOf(ev);
      expect(reads).not.toBeNull();
      const byClass = evaluateGrants(ev, approved, reads);
      expect(byClass.stats.mode).toBe('classes');
      expect(byClass.stats.classes!).toBeLessThan(approved.length);
      const direct = evaluateGrants(ev, approved, null);
      expect(direct.stats.mode).toBe('direct');
      expect(byClass.grants).toEqual(direct.grants);
      const a = grantsByNode(byClass.nodes);
      const b = grantsByNode(direct.nodes);
      for (const id of new Set([...Object.keys(a), ...Object.keys(b)])) {
        if (JSON.stringify(a[id]) !== JSON.stringify(b[id])) {
          throw new Error(`seed ${seed * 7919}, node ${id}: by class ${JSON.stringify(a[id])}\n direct ${JSON.stringify(b[id])}`);
        }
        compared++;
      }
      // One node at a time (scope 'nodes') gives each node the same grants as well.
      for (const n of approved.slice(0, 40)) {
        const one = evaluateGrants(ev, [n], null);
        expect(grantsByNode(one.nodes)[n.id]).toEqual(b[n.id]);
      }
    }
    expect(compared).toBeGreaterThan(1000);
  }, 120_000);

  it('falls back (null) when addresses repeat or a CIDR selector cannot be read exactly', async () => {
    const { nodes, acls } = randomMesh(42, 20);
    const input = netmapsInput(nodes);
    const readsFor = async (a: unknown) => nodeReadsOf(await evaluatorWith(a));
    const reads = (await readsFor(acls))!;
    const dup = input.nodes.map((n, i) => (i === 1 ? { ...n, addresses: input.nodes[0]!.addresses } : n));
    expect(partitionNodes(dup, reads)).toBeNull();
    // An IPv4-mapped address is IPv4 to opa and IPv6 to core's IP module: left to opa.
    const mapped = input.nodes.map((n, i) => (i === 2 ? { ...n, addresses: { ipv4: n.addresses.ipv4, ipv6: '::ffff:100.64.9.9' } } : n));
    expect(partitionNodes(mapped, reads)).toBeNull();
    // An IPv4-mapped prefix could hold an IPv4 address or not, depending on how it is read.
    expect(partitionNodes(input.nodes, (await readsFor({ ...acls, rules: [{ src: ['::ffff:0:0/96'], dst: ['*'] }] }))!)).toBeNull();
    // A leading zero is not read at all: no partition, the policy is evaluated over every node.
    expect(await readsFor({ ...acls, rules: [{ src: ['010.1.2.3'], dst: ['*'] }] })).toBeNull();
    expect(partitionNodes(input.nodes, reads)).not.toBeNull();
  });

  it('decideAccess gives the same decision by class as over every node (shipped bundle), and each node its extension', async () => {
    const { nodes } = randomMesh(5, 120);
    const bytes = readFileSync(bundlePath);
    const log: PluginLogger = { debug() {}, info() {}, warn() {}, error() {} };
    const access = { registerEngine() {}, active: () => ({ version: bundle.version, bundle: bytes, activatedAt: 0 }), seed: async () => access.active() };
    const byClass = new ControllerPolicy({ access, log });
    const direct = new ControllerPolicy({ access, log, netmapClasses: false });
    const approved = nodes.filter((n) => n.approved);
    const a = (await byClass.decideAccess({ nodes: approved, scope: 'mesh' }))!;
    expect(byClass.lastDecisionStats?.mode).toBe('classes');
    const b = (await direct.decideAccess({ nodes: approved, scope: 'mesh' }))!;
    expect(direct.lastDecisionStats?.mode).toBe('direct');
    expect(a.version).toBe(bundle.version);
    expect(a.grants).toEqual(b.grants);
    expect(grantsByNode(a.nodes)).toEqual(grantsByNode(b.nodes));
    // Members of a class share their representative's frozen grants.
    const distinct = new Set(a.nodes.values());
    expect(distinct.size).toBeLessThan(a.nodes.size);
    for (const ng of distinct) expect(Object.isFrozen(ng)).toBe(true);
    // The shipped policy allows everything (grant 0): every approved node that is not quarantined is its source and destination.
    const quarantined = (n: NodeInfo) => n.posture?.compliant === false;
    for (const n of approved) {
      const held = a.nodes.get(n.id)!;
      expect([held.src.includes(0), held.dst.includes(0)]).toEqual(quarantined(n) || n.tags.includes('tag:quarantine') ? [false, false] : [true, true]);
    }
    // Scope 'nodes' answers for the nodes asked about, with the same version and grants.
    const some: AccessDecision = (await byClass.decideAccess({ nodes: approved.slice(0, 5), scope: 'nodes' }))!;
    expect(some.version).toBe(a.version);
    expect(some.grants).toBe(a.grants);
    expect(grantsByNode(some.nodes)).toEqual(Object.fromEntries(Object.entries(grantsByNode(a.nodes)).filter(([id]) => approved.slice(0, 5).some((n) => n.id === id))));
    // The extension: the policy version, and the verdict on the node with its reasons.
    const q = nodes.find(quarantined)!;
    expect(byClass.mapExtension(q)).toEqual({ version: bundle.version, quarantined: true, reasons: ['old kernel'] });
    const fine = nodes.find((n) => !quarantined(n))!;
    expect(byClass.mapExtension(fine)).toEqual({ version: bundle.version, quarantined: false });
    expect(byClass.mapExtension(fine)).toBe(byClass.mapExtension(nodes.filter((n) => !quarantined(n))[1]!));
  }, 60_000);

  it('cuts every node off when the active policy cannot decide, and keeps the last good decision after one that did', async () => {
    const broken = await compilePolicies(POLICIES, { outFile: join(tmp, 'no-grants.tgz'), entrypoints: ['trellis/access/decision', 'trellis/posture/decision'] });
    const errors: unknown[] = [];
    const log: PluginLogger = { debug() {}, info() {}, warn() {}, error: (o) => void errors.push(o) };
    let active = { version: broken.version, bundle: readFileSync(broken.bundlePath), activatedAt: 0 };
    const access = { registerEngine() {}, active: () => active, seed: async () => active };
    const policy = new ControllerPolicy({ access, log });
    const { nodes } = randomMesh(9, 30);
    const approved = nodes.filter((n) => n.approved);
    const cut = (await policy.decideAccess({ nodes: approved, scope: 'mesh' }))!;
    expect(cut.nodes.size).toBe(0);
    expect(cut.version).not.toBe(broken.version);
    expect(errors).toHaveLength(1);
    active = { version: bundle.version, bundle: readFileSync(bundlePath), activatedAt: 1 };
    const good = (await policy.decideAccess({ nodes: approved, scope: 'mesh' }))!;
    expect(good.nodes.size).toBe(approved.length);
    active = { version: broken.version, bundle: readFileSync(broken.bundlePath), activatedAt: 2 };
    const kept = (await policy.decideAccess({ nodes: approved.slice(0, 3), scope: 'nodes' }))!;
    expect(kept.version).toBe(good.version);
    expect(grantsByNode(kept.nodes)).toEqual(Object.fromEntries(Object.entries(grantsByNode(good.nodes)).filter(([id]) => approved.slice(0, 3).some((n) => n.id === id))));
    expect(errors).toHaveLength(2);
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
