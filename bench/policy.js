'use strict';
/**
 * Policy benchmarks (posture-opa):
 *  1. opa-wasm evaluate latency of one access decision and one posture decision on a warm instance
 *     (p50/p99 over 10,000 calls), beside `opa eval` on the same decision (CLI per call, and its
 *     own in-process eval timer from --metrics).
 *     With TRELLIS_BENCH_BASELINE_POLICIES=<dir> (e.g. the policies/ of an earlier commit), the same
 *     decisions are also timed with that policy in the same run ("before"), for a ratio.
 *  2. A full build of every node's map through the pipeline (decideAccess with posture-opa, the
 *     access index, mapExtension with and without shaping-tc) under a generated 100-rule ACL, at
 *     1,000 and 10,000 nodes, beside the same build without a policy. Each size runs in a child node.
 */
const { execFileSync } = require('node:child_process');
const { cpSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { median, percentile, round } = require('./stats');

const ROOT = join(__dirname, '..');
const core = (p) => require(join(ROOT, 'core', 'dist', p));
const opaPlugin = () => require(join(ROOT, 'plugins', 'posture-opa', 'dist', 'index.js'));
const EVALS = 10_000;
const WARMUP = 2_000;
const CLI_RUNS = 20;

function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const GROUPS = ['eng', 'sre', 'data', 'sales', 'support', 'finance', 'hr', 'security', 'it', 'qa', 'mobile', 'web', 'ml', 'design', 'legal', 'ops', 'interns', 'execs', 'remediation'];
const ROLES = ['web', 'db', 'cache', 'queue', 'ci', 'monitoring', 'bastion', 'logging', 'backup', 'build', 'analytics', 'search', 'gpu', 'storage', 'mail', 'dns', 'k8s', 'remediation'];
const ENVS = ['prod', 'staging', 'dev'];

/**
 * mesh generates n nodes (70% user devices, 30% tagged servers), users in 1-3 groups, and a
 * 100-rule ACL by group, tag, user, node name and subnet, with port ranges.
 */
function mesh(n, seed = 0x7e11) {
  const rand = prng(seed);
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const userCount = Math.max(10, Math.floor((n * 0.7) / 2));
  const users = Array.from({ length: userCount }, (_, i) => `user${i}@example.com`);
  const userGroups = {};
  for (const u of users) userGroups[u] = [...new Set([pick(GROUPS.slice(0, 12)), ...(rand() < 0.5 ? [pick(GROUPS)] : []), ...(rand() < 0.1 ? [pick(GROUPS)] : [])])].sort();
  const nodes = Array.from({ length: n }, (_, i) => {
    const server = rand() < 0.3;
    const user = server ? null : users[Math.floor(rand() * users.length)];
    return {
      id: `n${String(i).padStart(6, '0')}`,
      name: server ? `srv-${i}` : `dev-${i}`,
      hostname: `h${i}`,
      user,
      tags: server ? [`tag:${pick(ROLES)}`, `tag:${pick(ENVS)}`] : [],
      wgKey: Buffer.from(`key-${i}`.padEnd(32, '.')).toString('base64'),
      identityKey: 'x',
      ipv4: `100.64.${i >> 8}.${i & 255}`,
      ipv6: `fd7a:115c:a1e0::${(i + 1).toString(16)}`,
      endpoints: [`198.18.${(i >> 8) & 255}.${i & 255}:41641`],
      authKeyId: null,
      lastSeen: null,
      createdAt: 0,
      expiresAt: null,
      revoked: false,
      revokedAt: null,
      facts: null,
      posture: rand() < 0.01 ? { compliant: false, reasons: ['disk is not encrypted'], policyVersion: 'p' } : null,
    };
  });
  const rules = [];
  const port = () => pick(['22', '443', '80', '5432', '6379', '8000-8100', '9090-9100', '3000', '53', '1000-2000']);
  for (let i = 0; rules.length < 100; i++) {
    const kind = i % 10;
    const g = `group:${pick(GROUPS)}`;
    const t = `tag:${pick(ROLES)}`;
    const e = `tag:${pick(ENVS)}`;
    const proto = pick(['tcp', 'tcp', 'udp', 'any']);
    if (kind < 4) rules.push({ name: `r${i}-group-to-tag`, src: [g], dst: [t], proto, ports: [port(), port()] });
    else if (kind < 6) rules.push({ name: `r${i}-tag-to-tag`, src: [t], dst: [pick(ROLES).replace(/^/, 'tag:'), e], proto, ports: [port()] });
    else if (kind === 6) rules.push({ name: `r${i}-group-icmp`, src: [g, `group:${pick(GROUPS)}`], dst: [t], proto: 'icmp', ports: ['*'] });
    else if (kind === 7) rules.push({ name: `r${i}-user`, src: [`user:${pick(users)}`], dst: ['tag:bastion', e], proto: 'tcp', ports: ['22'] });
    else if (kind === 8) rules.push({ name: `r${i}-node`, src: [g], dst: [`node:srv-${Math.floor(rand() * n)}`], proto: 'tcp', ports: ['443'] });
    else rules.push({ name: `r${i}-subnet`, src: [`100.64.${Math.floor(rand() * Math.max(1, n >> 8))}.0/24`], dst: [t], proto, ports: [port()] });
  }
  const acls = {
    groups: { contractors: users.slice(0, 50), remediation: users.slice(50, 55) },
    rules,
    quarantine: { tags: ['tag:quarantine'], remediation: ['group:remediation', 'tag:remediation'] },
  };
  return { nodes, userGroups, acls };
}

/** policyDir writes the shipped Rego (or that of `from`) with a data.json holding acls, to compile and to feed opa eval. */
function policyDir(acls, from = join(ROOT, 'policies')) {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-bench-policy-'));
  for (const domain of ['access', 'posture']) {
    mkdirSync(join(dir, domain));
    for (const f of readdirSync(join(from, domain))) {
      if (f.endsWith('_test.rego')) continue;
      if (f.endsWith('.rego') || f === 'data.json') cpSync(join(from, domain, f), join(dir, domain, f));
    }
  }
  const data = JSON.parse(readFileSync(join(dir, 'access', 'data.json'), 'utf8'));
  data.trellis.acls = acls;
  writeFileSync(join(dir, 'access', 'data.json'), JSON.stringify(data));
  return dir;
}

const POSTURE_FACTS = {
  os: { id: 'debian', versionId: '12' },
  kernel: { release: '6.1.0-18-amd64' },
  agent: { version: '0.2.0' },
  disk: { rootEncrypted: true, devices: [] },
  firewall: { enabled: true, ruleCount: 4, inputPolicy: 'drop' },
  processes: ['sshd', 'systemd'],
  wgKey: { createdAt: Date.now() - 10 * 86_400_000 },
  collectedAt: Date.now(),
};

function latency(evaluator, entrypoint, input) {
  for (let i = 0; i < WARMUP; i++) evaluator.evaluate(entrypoint, input);
  const us = new Array(EVALS);
  for (let i = 0; i < EVALS; i++) {
    const t0 = process.hrtime.bigint();
    evaluator.evaluate(entrypoint, input);
    us[i] = Number(process.hrtime.bigint() - t0) / 1e3;
  }
  return { p50Us: round(median(us), 1), p99Us: round(percentile(us, 99), 1), evaluations: EVALS };
}

/** opaEvalCli runs `opa eval` per call (process start, parse, compile, eval), CLI_RUNS times. */
function opaEvalCli(opa, dir, query, input) {
  const inputFile = join(dir, 'input.json');
  writeFileSync(inputFile, JSON.stringify(input));
  const wallMs = [];
  const evalUs = [];
  for (let i = 0; i < CLI_RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const out = execFileSync(opa, ['eval', '--metrics', '--format', 'json', '-d', join(dir, 'access'), '-d', join(dir, 'posture'), '-i', inputFile, query], { encoding: 'utf8', maxBuffer: 64 << 20 });
    wallMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const m = JSON.parse(out).metrics ?? {};
    if (typeof m.timer_rego_query_eval_ns === 'number') evalUs.push(m.timer_rego_query_eval_ns / 1e3);
  }
  return { perCallP50Ms: round(median(wallMs), 1), inProcessEvalP50Us: evalUs.length ? round(median(evalUs), 1) : null, runs: CLI_RUNS };
}

async function evalLatencyResults() {
  const { compilePolicies, PolicyEvaluator, resolveOpaBinary } = opaPlugin();
  const { acls, nodes, userGroups } = mesh(1000);
  const dir = policyDir(acls);
  const beforeRoot = process.env.TRELLIS_BENCH_BASELINE_POLICIES;
  const beforeDir = beforeRoot ? policyDir(acls, beforeRoot) : null;
  try {
    const { bundlePath } = await compilePolicies(dir, { outFile: join(dir, 'bundle.tgz') });
    const ev = await PolicyEvaluator.fromFile(bundlePath);
    // The earlier policy is compiled with the entrypoints timed here (and the indexes prepared at data load).
    const beforeEntrypoints = ['trellis/access/decision', 'trellis/posture/decision', 'trellis/access/build_decision_index', 'trellis/posture/build_posture_index'];
    const before = beforeDir ? await PolicyEvaluator.fromFile((await compilePolicies(beforeDir, { outFile: join(beforeDir, 'bundle.tgz'), entrypoints: beforeEntrypoints })).bundlePath) : null;
    const src = nodes.find((n) => n.user && (userGroups[n.user] ?? []).length > 0);
    const dst = nodes.find((n) => n.tags.length > 0);
    const access = {
      src: { node: src.name, user: src.user, groups: userGroups[src.user], tags: src.tags, ip: src.ipv4 },
      dst: { node: dst.name, user: dst.user, groups: [], tags: dst.tags, ip: dst.ipv4, subnets: [] },
      proto: 'tcp',
      port: 443,
    };
    const opa = resolveOpaBinary();
    const out = [];
    for (const [name, entrypoint, query, input] of [
      ['policy-eval-access', 'trellis/access/decision', 'data.trellis.access.decision', access],
      ['policy-eval-posture', 'trellis/posture/decision', 'data.trellis.posture.decision', POSTURE_FACTS],
    ]) {
      let wasm = latency(ev, entrypoint, input);
      let sameRun = null;
      if (before) {
        // Five alternating rounds, so both policies see the same load; medians of the rounds' p50s.
        const now = [];
        const then = [];
        for (let r = 0; r < 5; r++) {
          then.push(latency(before, entrypoint, input));
          now.push(latency(ev, entrypoint, input));
        }
        const mid = (xs, k) => round(median(xs.map((x) => x[k])), 1);
        wasm = { p50Us: mid(now, 'p50Us'), p99Us: mid(now, 'p99Us'), evaluations: EVALS, rounds: now.length, roundP50s: now.map((x) => x.p50Us) };
        sameRun = { what: `the same decision with the policies of ${beforeRoot}, alternating rounds`, p50Us: mid(then, 'p50Us'), p99Us: mid(then, 'p99Us'), roundP50s: then.map((x) => x.p50Us), ratio: round(wasm.p50Us / mid(then, 'p50Us'), 2) };
      }
      const cli = opaEvalCli(opa, dir, query, input);
      out.push({
        name,
        entrypoint,
        rules: name === 'policy-eval-access' ? acls.rules.length : undefined,
        trellis: { what: 'opa-wasm evaluate on a warm instance', ...wasm },
        baseline: { what: '`opa eval` per call (CLI); inProcessEvalP50Us is its own timer_rego_query_eval_ns', p50Ms: cli.perCallP50Ms, inProcessEvalP50Us: cli.inProcessEvalP50Us, runs: cli.runs },
        ...(sameRun ? { before: sameRun } : {}),
        ratio: round((cli.perCallP50Ms * 1000) / wasm.p50Us, 1),
        ratioMeaning: 'opa eval CLI per-call median / opa-wasm p50',
        goal: 'p50 <= 20 us, p99 <= 100 us',
        met: wasm.p50Us <= 20 && wasm.p99Us <= 100,
      });
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (beforeDir) rmSync(beforeDir, { recursive: true, force: true });
  }
}

/**
 * withGeneratedPolicy compiles the generated policy for `acls` (policyDir) with posture-opa and
 * calls fn({ bundle, version, dir }), the folder also serving as the plugins' data dir; the folder
 * is removed after, whatever fn does.
 */
async function withGeneratedPolicy(acls, fn) {
  const { compilePolicies } = opaPlugin();
  const dir = policyDir(acls);
  try {
    const { bundlePath, version } = await compilePolicies(dir, { outFile: join(dir, 'bundle.tgz') });
    return await fn({ bundle: readFileSync(bundlePath), version, dir });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * controllerHost starts the controller's plugins for a benchmark through core's PluginHost, as the
 * controller does: posture-opa with the given bundle as the active policy, and (withShaping)
 * shaping-tc assigning a profile to every node. Returns the host and the posture-opa plugin.
 */
async function controllerHost({ bundle, version, withShaping, dataDir }) {
  const { PluginHost } = core('plugins/plugin-host.js');
  const { createPostureOpaPlugin } = opaPlugin();
  const { createShapingTcPlugin } = require(join(ROOT, 'plugins', 'shaping-tc', 'dist', 'index.js'));
  const pino = require(require.resolve('pino', { paths: [join(ROOT, 'core')] }));
  const host = new PluginHost('controller', pino({ level: 'silent' }));
  const policy = { registerEngine() {}, active: () => ({ version, bundle, activatedAt: 0 }), async seed() { return policy.active(); } };
  const controller = { dataDir, requestMapRebuild() {}, audit() {}, policy };
  const posture = createPostureOpaPlugin();
  const entries = bundle ? [{ plugin: posture, config: {} }] : [];
  if (withShaping) entries.push({ plugin: createShapingTcPlugin(), config: SHAPING });
  await host.start(entries, { controller });
  return { host, posture };
}

const profile = (name, link) => ({ name, linkRateMbit: link, classes: { realtime: { rateMbit: link / 10, ceilMbit: link, priority: 0 }, critical: { rateMbit: link / 10, ceilMbit: link, priority: 1 }, default: { rateMbit: link / 2, ceilMbit: link, priority: 2 }, bulk: { rateMbit: link / 10, ceilMbit: link, priority: 3 } } });
/** shaping-tc's controller config beside the policy: production servers get one profile, everyone else another. */
const SHAPING = { profiles: { office: profile('office', 100), server: profile('server', 1000) }, assign: [{ tag: 'tag:prod', profile: 'server' }], default: 'office' };

/**
 * rebuildChild runs in a child process: times a full build through the pipeline (MapBuilder.build:
 * decideAccess over the whole mesh, the access index, peer entries, mapExtension per node, filters)
 * with the policy, with the policy and shaping-tc, and without a policy (the open mesh), for n nodes.
 */
async function rebuildChild(n) {
  const { MapBuilder } = core('controller/map-builder.js');
  const { diffMeshes } = core('controller/mesh-diff.js');
  const { nodes, userGroups, acls } = mesh(n);
  return withGeneratedPolicy(acls, async ({ bundle, version, dir }) => {
    const input = { nodes, presence: () => ({ online: true, lastSeen: null }), overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:115c:a1e0::/48' }, epoch: 'bench', now: 1, userGroups };
    const rounds = n >= 10_000 ? 5 : 7;
    const time = async (builder, after) => {
      const ms = [];
      const diffMs = [];
      let built = null;
      for (let r = 0; r < rounds; r++) {
        global.gc?.();
        const t0 = performance.now();
        const next = await builder.build(input, built);
        ms.push(performance.now() - t0);
        if (built) {
          // The diff against the previous build (nothing changed): what a rebuild adds before deltas are sent.
          const t1 = performance.now();
          diffMeshes(built, next);
          diffMs.push(performance.now() - t1);
        }
        built = next;
        after?.();
      }
      return { ms, diffMs, built };
    };
    const open = await time(new MapBuilder((await controllerHost({ bundle: null, withShaping: false, dataDir: dir })).host));
    const plain = await controllerHost({ bundle, version, withShaping: false, dataDir: dir });
    const stats = [];
    const pol = await time(new MapBuilder(plain.host), () => stats.push(plain.posture.controllerPolicy().lastDecisionStats));
    const shaped = await controllerHost({ bundle, version, withShaping: true, dataDir: dir });
    const withShaping = await time(new MapBuilder(shaped.host));
    const materialize = (m) => {
      const t0 = performance.now();
      let peers = 0;
      let filters = 0;
      for (const node of m.order) {
        const map = m.mapOf(node.id);
        peers += map.peers.length;
        filters += (map.packetFilter ?? []).length;
      }
      return { peers, filters, ms: performance.now() - t0, shapedMaps: m.order.filter((x) => x.extensions['shaping-tc']).length };
    };
    const polMaps = materialize(pol.built);
    const shapedMaps = materialize(withShaping.built);
    const openMaps = materialize(open.built);
    const last = stats[stats.length - 1];
    return {
      n,
      rules: acls.rules.length,
      withPolicyMs: round(median(pol.ms), 1),
      withoutPolicyMs: round(median(open.ms), 1),
      withPolicyAndShapingMs: round(median(withShaping.ms), 1),
      diffMs: round(median(withShaping.diffMs), 1),
      samples: { withPolicy: pol.ms.map((x) => round(x, 1)), withoutPolicy: open.ms.map((x) => round(x, 1)), withPolicyAndShaping: withShaping.ms.map((x) => round(x, 1)) },
      breakdown: { policyEvalMs: round(median(stats.map((s) => s.evalMs)), 1), mode: last.mode, classes: last.classes, evaluatedNodes: last.evaluatedNodes, accessClasses: pol.built.index.classes.length },
      peersTotal: { withPolicy: polMaps.peers, withoutPolicy: openMaps.peers, withPolicyAndShaping: shapedMaps.peers },
      materializeAllMs: { withPolicy: round(polMaps.ms, 1), withoutPolicy: round(openMaps.ms, 1) },
      shapedMaps: shapedMaps.shapedMaps,
      filterEntries: polMaps.filters,
    };
  });
}

function rebuildResult(n) {
  const out = execFileSync(process.execPath, ['--expose-gc', '--max-old-space-size=8000', __filename, '--rebuild', String(n)], { encoding: 'utf8', maxBuffer: 16 << 20, stdio: ['ignore', 'pipe', 'inherit'] });
  const r = JSON.parse(out);
  return {
    name: `policy-rebuild-${n}`,
    nodes: n,
    rules: r.rules,
    trellis: { what: 'full build: decideAccess (posture-opa, 100-rule ACL) + access index + entries + mapExtension + filters', p50Ms: r.withPolicyMs, samples: r.samples.withPolicy, ...r.breakdown },
    baseline: { what: 'the same build without a policy (open mesh, no decider)', p50Ms: r.withoutPolicyMs, samples: r.samples.withoutPolicy },
    withShaping: { what: 'the policy build with shaping-tc giving every node a profile (mapExtension)', p50Ms: r.withPolicyAndShapingMs, samples: r.samples.withPolicyAndShaping, samePeers: r.peersTotal.withPolicyAndShaping === r.peersTotal.withPolicy, shapedMaps: r.shapedMaps },
    diffMs: { what: 'diffMeshes against the previous build (policy + shaping, nothing changed)', p50Ms: r.diffMs },
    materializeAllMs: { what: 'materialising every node map after the build (peer lists per class), not part of a build', ...r.materializeAllMs },
    peersTotal: r.peersTotal,
    filterEntries: r.filterEntries,
    ratio: round(r.withPolicyAndShapingMs / r.withoutPolicyMs, 2),
    ratioMeaning: 'with policy and shaping / without policy',
    goal: 'full build with policy (and shaping) <= 1000 ms at 10,000 nodes',
    met: n >= 10_000 ? r.withPolicyAndShapingMs <= 1000 : null,
  };
}

async function run() {
  const results = await evalLatencyResults();
  for (const n of [1000, 10_000]) results.push(rebuildResult(n));
  return results;
}

module.exports = { run, mesh, policyDir, withGeneratedPolicy, controllerHost };
if (require.main === module) {
  if (process.argv[2] === '--rebuild') {
    rebuildChild(Number(process.argv[3])).then((r) => process.stdout.write(JSON.stringify(r)), (e) => { console.error(e); process.exit(1); });
  } else {
    run().then((r) => console.log(JSON.stringify(r, null, 2)), (e) => { console.error(e); process.exit(1); });
  }
}
