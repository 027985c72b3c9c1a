/**
 * Differential test of the policy engine: opa-wasm in Node (with our host builtins) must give exactly
 * what the real `opa eval` gives on the same inputs, for generated access decisions, network maps
 * and posture facts. opa eval runs once, on a wrapper rule that evaluates the whole batch.
 *
 * Network maps are also made the controller's way and compared with opa eval's netmaps: the policy's
 * grants (opa-wasm), per class of alike nodes where the controller would use classes, expanded by
 * core (AccessIndex and Mesh) — with the ACL given in the input and, for netmaps_data cases, in the
 * data document, where the wasm evaluator prepares the decision index at data load.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { NodeGrants } from '@trellis/core/api';
import {
  compilePolicies,
  forMember,
  GRANTS_ENTRYPOINT,
  NODE_READS_ENTRYPOINT,
  partitionNodes,
  PolicyEvaluator,
  readGrants,
  readNodeReads,
  resolveOpaBinary,
  type PolicyNode,
} from '@trellis/plugin-posture-opa';
import { assembleMesh } from '../core/src/controller/map-builder';
import type { NodeRecord } from '../core/src/store/store';

const ROOT = resolve(__dirname, '..');
const DAY_MS = 86_400_000;
const CASES = 1200;
const SEED = 0x7e11150;

type Kind = 'decision' | 'netmap' | 'netmaps' | 'netmaps_data' | 'errors' | 'posture';
interface Case {
  kind: Kind;
  input: unknown;
  /** posture only: data.trellis.posture_config for this case. */
  config?: unknown;
  /** netmaps_data only: data.trellis.acls for this case (the input has none). */
  acls?: unknown;
}

const ENTRYPOINT: Record<Kind, string> = {
  decision: 'trellis/access/decision',
  netmap: 'trellis/access/netmap',
  netmaps: 'trellis/access/netmaps',
  netmaps_data: 'trellis/access/netmaps',
  errors: 'trellis/access/errors',
  posture: 'trellis/posture/decision',
};

// Evaluates every case with the same entrypoint and data as the wasm side; [] means undefined.
const WRAPPER = `package trellis_differential

results := [r | some c in input.cases; r := one(c)]

one(c) := [v | v := data.trellis.access.decision with input as c.input] if c.kind == "decision"

one(c) := [v | v := data.trellis.access.netmap with input as c.input] if c.kind == "netmap"

one(c) := [v | v := data.trellis.access.netmaps with input as c.input] if c.kind == "netmaps"

one(c) := [v | v := data.trellis.access.netmaps with input as c.input with data.trellis.acls as c.acls] if c.kind == "netmaps_data"

one(c) := [v | v := data.trellis.access.errors with input as c.input] if c.kind == "errors"

one(c) := [v | v := data.trellis.posture.decision with input as c.input with data.trellis.posture_config as c.config] if c.kind == "posture"
`;

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
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

function generator(seed: number) {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const chance = (p: number) => rand() < p;
  const some = <T>(xs: readonly T[], max: number): T[] => {
    const n = Math.floor(rand() * (max + 1));
    return [...new Set(Array.from({ length: n }, () => pick(xs)))];
  };

  const users = ['alice', 'bob', 'carol', 'dave', 'ops', 'erin@example.com'];
  const tags = ['tag:server', 'tag:db', 'tag:ci', 'tag:quarantine', 'tag:remediation', 'web'];
  const groupNames = ['eng', 'group:sre', 'remediation'];
  const ips = ['100.64.0.1', '100.64.0.2', '100.64.0.255', '100.64.1.3', '100.64.1.4', '10.20.3.4', '10.20.255.1', '10.30.0.5', 'fd7a::1', 'fd7a::2'];
  const subnets = ['10.20.0.0/16', '10.30.0.0/24', '10.20.3.0/24'];
  const selectors = [
    '*', 'user:alice', 'user:bob', 'erin@example.com', 'group:eng', 'group:sre', 'group:remediation', 'tag:server', 'tag:db',
    'tag:ci', 'tag:remediation', 'node:web-1', 'node:n2', '10.20.0.0/16', '10.20.3.0/24', '100.64.0.0/24', '100.64.1.3', 'fd7a::/64',
  ];
  const badSelectors = ['role:x', '', 'tag', '300.1.1.1/99x'];
  const edgePorts = [0, 1, 21, 22, 23, 53, 80, 443, 999, 1000, 1999, 2000, 2001, 5432, 6000, 6010, 6011, 65534, 65535];
  const portSpecs = ['22', '53', 443, '1000-2000', '6000-6010', '*', '0', '65535', '0-65535', '80-80'];
  const badPortSpecs = ['70000', '10-5', 'http', -1, 1.5, '1-2-3'];

  const rule = () => {
    const r: Record<string, unknown> = {
      src: chance(0.05) ? [pick(badSelectors)] : some(selectors, 3).concat(pick(selectors)),
      dst: chance(0.05) ? [] : some(selectors, 2).concat(pick(selectors)),
      proto: chance(0.04) ? 'gre' : pick(['tcp', 'udp', 'icmp', 'any', 'tcp']),
      ports: chance(0.05) ? [pick(badPortSpecs)] : some(portSpecs, 2).concat(pick(portSpecs)),
    };
    if (chance(0.5)) r.name = `r${Math.floor(rand() * 100)}`;
    if (chance(0.1)) delete r.ports;
    if (chance(0.1)) delete r.proto;
    return r;
  };
  const acls = () => ({
    groups: { eng: some(users, 3), sre: some(users, 2), remediation: chance(0.8) ? ['ops'] : [] },
    rules: Array.from({ length: 1 + Math.floor(rand() * 6) }, rule),
    quarantine: chance(0.8) ? { tags: ['tag:quarantine'], remediation: some(['group:remediation', 'tag:remediation', '10.30.0.0/24'], 2) } : {},
  });
  const endpoint = (side: 'src' | 'dst') => {
    const p: Record<string, unknown> = {
      node: pick(['alice-laptop', 'web-1', 'db-1', 'n2', 'router', 'ci', 'fixer']),
      user: chance(0.7) ? pick(users) : null,
      tags: some(tags, 2),
      ip: pick(ips),
    };
    if (side === 'src') p.groups = some(groupNames, 1);
    if (side === 'dst') p.subnets = some(subnets, 1);
    if (chance(0.05)) p.quarantined = true;
    return p;
  };
  const decision = (): unknown => ({
    src: endpoint('src'),
    dst: endpoint('dst'),
    proto: chance(0.03) ? 'sctp' : pick(['tcp', 'udp', 'icmp', 'tcp']),
    port: chance(0.05) ? null : pick(edgePorts),
    acls: acls(),
    ...(chance(0.2) ? { users: { dave: { groups: ['eng'] } } } : {}),
  });
  const nodes = () =>
    Array.from({ length: 3 + Math.floor(rand() * 6) }, (_, i) => ({
      id: `n${i}`,
      name: pick(['web-1', 'db-1', 'alice-laptop', 'router', `host-${i}`]),
      user: chance(0.6) ? pick(users) : null,
      tags: some(tags, 2),
      addresses: { ipv4: `100.64.${i % 2}.${i + 1}`, ipv6: `fd7a::${i + 1}` },
      ...(chance(0.3) ? { subnets: some(subnets, 2) } : {}),
      ...(chance(0.08) ? { quarantined: true } : {}),
    }));
  const netmap = (): unknown => {
    const ns = nodes();
    return { nodes: ns, self: chance(0.95) ? pick(ns).id : 'missing', acls: acls(), ...(chance(0.2) ? { tags: { 'tag:db': ['n1'] } } : {}) };
  };
  /** As the controller asks: no subnets, no central tags, the ACL in the data document. */
  const netmapData = (): Case => {
    const ns = nodes().map(({ subnets: _s, ...n }) => n);
    return { kind: 'netmaps_data', input: { nodes: ns }, acls: acls() };
  };
  const postureConfigs = [
    {
      minOsVersion: { debian: '12', ubuntu: '22.04' }, minKernelVersion: '6.1', minAgentVersion: '0.2.0',
      requireDiskEncryption: true, requireFirewall: true, requiredProcesses: ['sshd', 'osqueryd'],
      forbiddenProcesses: ['telnetd', 'nc'], maxKeyAgeDays: 90,
    },
    { minOsVersion: { debian: '11', alpine: '3.19' }, minKernelVersion: '5.10', maxKeyAgeDays: 30, forbiddenProcesses: ['nc'] },
    { minAgentVersion: 'v0.10.0', requireFirewall: true, minKernelVersion: 'latest' },
    {},
  ];
  const posture = (): { input: unknown; config: unknown } => {
    const now = Date.now();
    const facts: Record<string, unknown> = {
      os: { id: pick(['debian', 'ubuntu', 'alpine', 'arch']), versionId: pick(['11', '12', 13, '22.04', '20.04', '24.04', '3.19.1', 'bookworm', '']) },
      kernel: { release: pick(['5.10.0-28-amd64', '6.1.0-18-amd64', '6.0.99', '6.1', '6.8.0-1012-aws', '5.15.153.1-microsoft-standard-WSL2', 'unknown']) },
      agent: { version: pick(['0.1.0', '0.2.0', 'v0.10.0', '0.2.0-rc.1', '0.1.9', 'dev']) },
      disk: chance(0.9) ? { rootEncrypted: chance(0.6), devices: [] } : { devices: [] },
      firewall: { enabled: chance(0.7), ruleCount: pick([0, 0, 3, 12]), inputPolicy: pick(['drop', 'accept', 'DROP']) },
      processes: some(['systemd', 'sshd', 'osqueryd', 'telnetd', 'nc', 'nginx'], 5),
      // Whole days plus half a day: far from any day boundary, so both clocks agree on the age.
      wgKey: { createdAt: now - (Math.floor(rand() * 200) + 0.5) * DAY_MS },
      collectedAt: now,
    };
    for (const k of ['os', 'kernel', 'agent', 'firewall', 'wgKey', 'processes']) if (chance(0.03)) delete facts[k];
    return { input: facts, config: pick(postureConfigs) };
  };
  return (): Case => {
    const r = rand();
    if (r < 0.45) return { kind: 'decision', input: decision() };
    if (r < 0.55) return { kind: 'netmap', input: netmap() };
    if (r < 0.6) return { kind: 'netmaps', input: netmap() };
    if (r < 0.65) return netmapData();
    if (r < 0.68) return { kind: 'errors', input: { acls: acls() } };
    return { kind: 'posture', ...posture() };
  };
}

function opaEval(cases: Case[], wrapperPath: string): Promise<unknown[][]> {
  const opa = resolveOpaBinary();
  const args = ['eval', '--format', 'json', '-d', join(ROOT, 'policies/access'), '-d', join(ROOT, 'policies/posture'), '-d', wrapperPath, '-I', 'data.trellis_differential.results'];
  return new Promise((resolvePromise, reject) => {
    const child = execFile(opa, args, { maxBuffer: 512 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`opa eval failed: ${stderr || err.message}`));
      const out = JSON.parse(stdout) as { result?: Array<{ expressions: Array<{ value: unknown[][] }> }> };
      const value = out.result?.[0]?.expressions[0]?.value;
      if (!Array.isArray(value)) return reject(new Error(`opa eval gave no results: ${stdout.slice(0, 500)}`));
      resolvePromise(value);
    });
    child.stdin!.end(JSON.stringify({ cases }));
  });
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'trellis-policy-diff-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('policy differential: opa-wasm vs opa eval', () => {
  it(`agrees on ${CASES} generated inputs (seed ${SEED})`, async () => {
    const next = generator(SEED);
    const cases = Array.from({ length: CASES }, next);
    const { bundlePath } = await compilePolicies(join(ROOT, 'policies'), { outFile: join(tmp, 'bundle.tgz') });
    const wrapperPath = join(tmp, 'wrapper.rego');
    writeFileSync(wrapperPath, WRAPPER);

    const cliStarted = Date.now();
    const cliResults = await opaEval(cases, wrapperPath);
    const cliMs = Date.now() - cliStarted;

    const evaluator = await PolicyEvaluator.fromFile(bundlePath);
    const bundleData = evaluator.currentData as { trellis: Record<string, unknown> };
    const wasmStarted = Date.now();
    let lastConfig: unknown = Symbol('none');
    const wasmResults = cases.map((c) => {
      if (c.kind === 'posture' && c.config !== lastConfig) {
        evaluator.setData({ trellis: { ...bundleData.trellis, posture_config: c.config } });
        lastConfig = c.config;
      }
      if (c.kind === 'netmaps_data') {
        evaluator.setData({ trellis: { ...bundleData.trellis, acls: c.acls } });
        lastConfig = null;
      }
      const v = evaluator.evaluate(ENTRYPOINT[c.kind], c.input);
      return v === undefined ? [] : [v];
    });
    const wasmMs = Date.now() - wasmStarted;

    // The controller's way: grants (by class where it would use classes), expanded by core.
    let classCases = 0;
    const expanded = cases.map((c) => {
      if (!c.kind.startsWith('netmap')) return null;
      if (c.kind === 'netmaps_data') evaluator.setData({ trellis: { ...bundleData.trellis, acls: c.acls } });
      const out = controllerNetmaps(evaluator, c);
      if (out.byClass) classCases++;
      if (c.kind !== 'netmap') return [out.maps];
      const self = (c.input as { self: string }).self;
      return out.maps[self] ? [out.maps[self]] : [];
    });
    evaluator.setData({ trellis: { ...bundleData.trellis } });

    expect(cliResults).toHaveLength(CASES);
    const mismatches = cases
      .map((c, i) => ({ i, kind: c.kind, input: c.input, config: c.config, wasm: wasmResults[i], opa: cliResults[i] }))
      .filter((m) => JSON.stringify(sortKeys(m.wasm)) !== JSON.stringify(sortKeys(m.opa)));
    if (mismatches.length > 0) console.error('first mismatch', JSON.stringify(mismatches[0], null, 1));
    expect(mismatches.map((m) => m.i)).toEqual([]);

    // Peers and packet filters from the expanded grants equal opa eval's netmaps, node for node.
    const peersAndFilters = (v: unknown) =>
      Array.isArray(v) && v.length === 1 && typeof v[0] === 'object' && v[0] !== null && 'peers' in v[0]
        ? [{ peers: (v[0] as { peers: unknown }).peers, packetFilter: (v[0] as { packetFilter: unknown }).packetFilter }]
        : Array.isArray(v) && v.length === 1
          ? [Object.fromEntries(Object.entries(v[0] as Record<string, { peers: unknown; packetFilter: unknown }>).map(([id, m]) => [id, { peers: m.peers, packetFilter: m.packetFilter }]))]
          : v;
    const expansionMismatches = cases
      .map((c, i) => ({ i, kind: c.kind, input: c.input, acls: c.acls, core: expanded[i], opa: cliResults[i] }))
      .filter((m) => m.core !== null && JSON.stringify(sortKeys(peersAndFilters(m.core))) !== JSON.stringify(sortKeys(peersAndFilters(m.opa))));
    if (expansionMismatches.length > 0) console.error('first expansion mismatch', JSON.stringify(expansionMismatches[0], null, 1));
    expect(expansionMismatches.map((m) => m.i)).toEqual([]);
    const netmapCases = cases.filter((c) => c.kind.startsWith('netmap')).length;
    expect(netmapCases).toBeGreaterThan(150);
    expect(classCases).toBeGreaterThan(40);

    // The generator must have covered both outcomes of each kind.
    const values = wasmResults.map((r) => r[0] as Record<string, unknown> | undefined);
    const count = (kind: Kind, pred: (v: Record<string, unknown>) => boolean) =>
      cases.filter((c, i) => c.kind === kind && values[i] !== undefined && pred(values[i]!)).length;
    const coverage = {
      allow: count('decision', (v) => v.allow === true),
      deny: count('decision', (v) => v.allow === false),
      quarantineAllow: count('decision', (v) => (v.reasons as string[]).some((r) => r.includes('remediation') && r.includes('allowed'))),
      netmapWithFilter: count('netmap', (v) => (v.packetFilter as unknown[]).length > 0),
      netmapsDataWithFilter: count('netmaps_data', (v) => Object.values(v).some((m) => ((m as { packetFilter: unknown[] }).packetFilter ?? []).length > 0)),
      netmapUndefined: cases.filter((c, i) => c.kind === 'netmap' && values[i] === undefined).length,
      compliant: count('posture', (v) => v.compliant === true),
      nonCompliant: count('posture', (v) => v.compliant === false),
      oldKernel: count('posture', (v) => (v.reasons as string[]).some((r) => r.startsWith('kernel') && r.includes('older'))),
      aclErrors: count('errors', (v) => (v as unknown as string[]).length > 0),
      oldKey: count('posture', (v) => (v.reasons as string[]).some((r) => r.startsWith('WireGuard key is'))),
    };
    console.log(`policy differential: ${CASES} cases, opa eval ${cliMs} ms (one process), opa-wasm ${wasmMs} ms`, coverage);
    for (const [k, n] of Object.entries(coverage)) expect([k, n > 0]).toEqual([k, true]);
    expect(coverage.allow).toBeGreaterThan(CASES * 0.02);
    expect(coverage.deny).toBeGreaterThan(CASES * 0.1);
  }, 120_000);
});

interface InputNode {
  id: string;
  name: string;
  user?: string | null;
  tags?: string[];
  groups?: string[];
  addresses: { ipv4: string; ipv6: string };
  subnets?: string[];
  quarantined?: boolean;
}

/**
 * controllerNetmaps makes a case's netmaps as the controller makes maps: grants evaluated over one
 * node per class (when the input is one the controller could send: no subnets, no central tags;
 * the classes are those node_reads gives) or over every node, then expanded by core's Mesh.
 */
function controllerNetmaps(evaluator: PolicyEvaluator, c: Case): { maps: Record<string, { peers: string[]; packetFilter: unknown }>; byClass: boolean } {
  const input = c.input as { nodes: InputNode[]; acls?: unknown; tags?: unknown };
  const acls = input.acls === undefined ? {} : { acls: input.acls };
  const unique = input.nodes.filter((n, i) => input.nodes.findIndex((m) => m.id === n.id) === i);
  const addresses = new Map(unique.map((n) => [n.id, n.addresses]));
  const reads = input.tags === undefined && unique.every((n) => n.subnets === undefined) ? readNodeReads(evaluator.evaluate(NODE_READS_ENTRYPOINT, acls)) : null;
  const policyNodes: PolicyNode[] = unique.map((n) => ({ id: n.id, name: n.name, user: n.user ?? null, tags: n.tags ?? [], groups: n.groups ?? [], addresses: n.addresses, quarantined: n.quarantined === true }));
  const partition = reads ? partitionNodes(policyNodes, reads) : null;
  let nodes: Map<string, NodeGrants>;
  let grants;
  if (partition) {
    const reps = partition.classes.map((k) => input.nodes.find((n) => n.id === k.members[0]!.id)!);
    const g = readGrants(evaluator.evaluate(GRANTS_ENTRYPOINT, { ...input, nodes: reps }), 'differential', undefined, (id) => addresses.get(id));
    grants = g.grants;
    nodes = new Map();
    for (const k of partition.classes) {
      const rep = k.members[0]!;
      const ng = g.nodes.get(rep.id);
      if (ng) for (const m of k.members) nodes.set(m.id, forMember(ng, rep.addresses, m.addresses));
    }
  } else {
    ({ grants, nodes } = readGrants(evaluator.evaluate(GRANTS_ENTRYPOINT, input), 'differential', undefined, (id) => addresses.get(id)));
  }
  const records = unique
    .filter((n) => typeof n.id === 'string' && n.id !== '')
    .map((n) => ({ id: n.id, name: n.name, hostname: n.name, user: n.user ?? null, tags: n.tags ?? [], wgKey: '', identityKey: '', ipv4: n.addresses.ipv4, ipv6: n.addresses.ipv6, endpoints: [], authKeyId: null, lastSeen: null, createdAt: 0, expiresAt: null, revoked: false, revokedAt: null, facts: null, posture: null }) as NodeRecord)
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  const infos = records.map((r) => ({ id: r.id, name: r.name, user: r.user, groups: [], tags: r.tags, addresses: { ipv4: r.ipv4, ipv6: r.ipv6 }, posture: null, approved: true }));
  const mesh = assembleMesh(
    { nodes: records, presence: () => ({ online: false, lastSeen: null }), overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a::/48' }, epoch: 'd', now: 0 },
    records,
    infos,
    { version: 'differential', grants, nodes },
    null,
    () => undefined,
  );
  const maps: Record<string, { peers: string[]; packetFilter: unknown }> = {};
  for (const r of records) {
    const m = mesh.mapOf(r.id)!;
    maps[r.id] = { peers: m.peers.map((p) => p.id), packetFilter: m.packetFilter };
  }
  return { maps, byClass: partition !== null };
}

/** sortKeys makes JSON comparison independent of object key order. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  }
  return v;
}
