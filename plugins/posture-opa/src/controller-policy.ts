/**
 * ControllerPolicy: the posture-opa plugin on the controller. It registers the policy engine
 * (compile + test with the real opa, validate bundles, explain decisions), evaluates the active
 * version (always the controller's active pointer, reloaded when it moves), and answers
 * decideAccess from trellis/access/grants: per class of alike nodes when the policy declares what
 * it reads of a node (trellis/access/node_reads, node-classes.ts), else over the nodes given.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import {
  findUpward,
  TrellisError,
  type AccessAnswer,
  type AccessDecision,
  type AccessDecisionRequest,
  type AccessGrant,
  type AccessQuestion,
  type ControllerPolicyAccess,
  type NodeGrants,
  type NodeInfo,
  type PluginLogger,
  type PolicyEngine,
  type PolicySource,
  type PreparedPolicy,
  type RouteApproval,
  type RouteApprovalRequest,
  type TopologyConfig,
  type TopologyDecision,
} from '@trellis/core/api';
import { forMember, readGrants, type EvaluatedGrants } from './access-grants';
import { policyErrors } from './errors';
import type { WallClock } from './opa-builtins';
import { partitionNodes, readNodeReads, type NodeReads, type PolicyNode } from './node-classes';
import { compilePolicies, testPolicies } from './opa-cli';
import { parsePolicyBundle } from './policy-bundle';
import { PolicyEvaluator } from './wasm-evaluator';

/** The key of the map extension that carries the active policy version to agents. */
export const EXTENSION_KEY = 'posture-opa';
/** Who sees whom and what each node accepts, as grants (the controller expands them). */
export const GRANTS_ENTRYPOINT = 'trellis/access/grants';
/** The per-node netmaps: the expansion of grants, kept as the reference for tests and opa eval. */
export const NETMAPS_ENTRYPOINT = 'trellis/access/netmaps';
export const DECISION_ENTRYPOINT = 'trellis/access/decision';
/** The optional entrypoint by which an access policy declares what it reads of a node (node-classes.ts). */
export const NODE_READS_ENTRYPOINT = 'trellis/access/node_reads';
/** The optional entrypoint that approves advertised routes (policies/routes/routes.rego). */
export const ROUTES_ENTRYPOINT = 'trellis/routes/auto_approve';
/** The optional entrypoints by which a policy chooses the topology (policies/topology/topology.rego). */
export const TOPOLOGY_ENTRYPOINT = 'trellis/topology/topology';
export const TOPOLOGY_ERRORS_ENTRYPOINT = 'trellis/topology/errors';
/** Entrypoints a bundle must have to be activated on the controller. */
export const REQUIRED_ENTRYPOINTS = [GRANTS_ENTRYPOINT, DECISION_ENTRYPOINT, 'trellis/posture/decision'] as const;

export interface ControllerPolicyOptions {
  access: ControllerPolicyAccess;
  log: PluginLogger;
  clock?: WallClock;
  /** opa binary for push (compile/test); default resolveOpaBinary(). */
  opaPath?: string;
  /** Evaluate grants per class of alike nodes when the policy allows it (default true). */
  netmapClasses?: boolean;
}

/** How the last access evaluation went, for logs and benchmarks. */
export interface AccessDecisionStats {
  scope: AccessDecisionRequest['scope'];
  mode: 'classes' | 'direct';
  nodes: number;
  /** Nodes the policy was evaluated over (representatives in class mode). */
  evaluatedNodes: number;
  classes: number | null;
  evalMs: number;
}

/** The extension posture-opa puts in every map: the policy version, and the controller's verdict on the node. */
export interface PostureOpaExtension {
  version: string;
  quarantined: boolean;
  reasons?: string[];
}

/**
 * findShippedBundle looks for policies/dist/bundle.tgz (built by `npx nx run policies:build`) from
 * the working directory and from this file, walking up.
 */
export function findShippedBundle(): string | null {
  return findUpward(join('policies', 'dist', 'bundle.tgz'), [process.cwd(), __dirname]);
}

/** isQuarantined: the controller's last decision says non-compliant (no decision yet is not quarantine). */
export const isQuarantined = (n: Pick<NodeInfo, 'posture'>): boolean => n.posture !== null && n.posture.compliant === false;

/** The policy's view of each NodeInfo core hands over (core reuses a NodeInfo while the node is unchanged). */
const policyNodes = new WeakMap<NodeInfo, PolicyNode>();

/** netmapsInput is the input of trellis/access/grants (and netmaps) for the approved nodes given. */
export function netmapsInput(nodes: readonly NodeInfo[]): { nodes: PolicyNode[] } {
  const out: PolicyNode[] = [];
  for (const n of nodes) {
    if (!n.approved) continue;
    let p = policyNodes.get(n);
    if (!p) {
      p = Object.freeze({
        id: n.id,
        name: n.name,
        user: n.user,
        tags: n.tags,
        groups: n.groups,
        addresses: n.addresses,
        quarantined: isQuarantined(n),
        // The approved routes it serves: CIDR destinations reach a gateway at these (access.rego dst_addrs).
        ...(n.subnets && n.subnets.length > 0 ? { subnets: n.subnets } : {}),
      });
      policyNodes.set(n, p);
    }
    out.push(p);
  }
  return { nodes: out };
}

function rewriteMessage(err: unknown, from: string, to: string): unknown {
  if (!(err instanceof TrellisError)) return err;
  return new TrellisError(err.code, err.message.split(from).join(to), err.details);
}

export class ControllerPolicy {
  private evaluator: PolicyEvaluator | null = null;
  /** Last successful evaluation, kept when one fails so the mesh does not flap open or shut. */
  private lastGood: { version: string; grants: readonly AccessGrant[]; nodes: Map<string, NodeGrants> } | null = null;
  /** What each loaded version says it reads of a node (null: no usable node_reads), by version. */
  private readonly reads = new Map<string, NodeReads | null>();
  /** The grants list of the active version, read once and shared by every decision. */
  private grantList: { version: string; grants: readonly AccessGrant[] } | null = null;
  /** The extension of every node that is not quarantined, per version. */
  private plain: { version: string; extension: PostureOpaExtension } | null = null;
  lastDecisionStats: AccessDecisionStats | null = null;
  readonly engine: PolicyEngine;

  constructor(private readonly o: ControllerPolicyOptions) {
    this.engine = {
      prepare: (src) => this.prepare(src),
      validate: (bundle, source) => this.validate(bundle, source),
      explain: (q) => this.explain(q),
    };
  }

  /** current is the evaluator of the controller's active version (loaded when the version moved). */
  async current(): Promise<PolicyEvaluator | null> {
    const active = this.o.access.active();
    if (!active) return null;
    if (this.evaluator?.version === active.version) return this.evaluator;
    const evaluator = await PolicyEvaluator.fromBundle(parsePolicyBundle(active.bundle, `policy ${active.version.slice(0, 12)}`), this.clockOpt());
    this.evaluator = evaluator;
    this.o.log.info({ policyVersion: evaluator.version }, 'active policy loaded');
    return evaluator;
  }

  private clockOpt() {
    return this.o.clock ? { clock: this.o.clock } : {};
  }

  /** Pushes are prepared one at a time (opa is CPU-heavy, and the work dir is per content). */
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * prepare writes the pushed files to a work dir, runs `opa build -t wasm`, then `opa test`. The
   * work dir is named by the content, because opa records source paths in the bundle: the same
   * policy pushed twice gives the same bytes, hence the same version.
   */
  prepare(src: PolicySource): Promise<PreparedPolicy> {
    const run = this.queue.then(() => this.prepareNow(src));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async prepareNow(src: PolicySource): Promise<PreparedPolicy> {
    const digest = createHash('sha256');
    for (const path of Object.keys(src.files).sort()) digest.update(`${path}\0${src.files[path]}\0`);
    const work = join(tmpdir(), `trellis-policy-${process.pid}-${digest.digest('hex').slice(0, 16)}`);
    const dir = join(work, 'src');
    await rm(work, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      for (const [path, text] of Object.entries(src.files)) {
        const full = resolve(dir, path);
        if (!full.startsWith(dir + sep)) throw policyErrors.compileFailed(src.source, `file path "${path}" leaves the policy folder`);
        await mkdir(dirname(full), { recursive: true });
        await writeFile(full, text);
      }
      let testOutput: string;
      let compiled: { bundlePath: string; version: string };
      try {
        // Compile first: a policy that does not parse is a compile error, not a test failure.
        compiled = await compilePolicies(dir, { opaPath: this.o.opaPath, outFile: join(work, 'bundle.tgz') });
        testOutput = await testPolicies(dir, { opaPath: this.o.opaPath });
      } catch (err) {
        throw rewriteMessage(err, dir, src.source);
      }
      const bundle = await readFile(compiled.bundlePath);
      await this.validate(bundle, src.source);
      const summary = testOutput.split('\n').map((l) => l.trim()).filter((l) => /^(PASS|FAIL|ERROR)\b/.test(l)).pop() ?? 'opa test: no tests';
      return { bundle, version: compiled.version, testSummary: summary };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /**
   * approveRoute asks the active version's trellis/routes/auto_approve about a route a gateway
   * advertises; null (no opinion) when the policy has no such rule or no version is active.
   */
  async approveRoute(request: RouteApprovalRequest): Promise<RouteApproval | null> {
    const ev = await this.current();
    if (!ev || !ev.entrypoints.includes(ROUTES_ENTRYPOINT)) return null;
    const n = request.node;
    const input = {
      node: { id: n.id, name: n.name, user: n.user, groups: n.groups, tags: n.tags, quarantined: isQuarantined(n) },
      prefix: request.prefix,
      kind: request.kind,
    };
    const value = ev.evaluate<{ approved?: unknown; reason?: unknown }>(ROUTES_ENTRYPOINT, input);
    if (!value || typeof value.approved !== 'boolean') return null;
    return { approved: value.approved, reason: typeof value.reason === 'string' ? value.reason : '', version: ev.version };
  }

  /**
   * decideTopology asks the active version's trellis/topology/topology for the topology it
   * chooses; null (the controller's stays) when it has no such rule, chooses none, or no version is
   * active. The policy's own errors travel with the decision, so the core keeps the topology in force.
   */
  async decideTopology(): Promise<TopologyDecision | null> {
    const ev = await this.current();
    if (!ev || !ev.entrypoints.includes(TOPOLOGY_ENTRYPOINT)) return null;
    const errs = ev.entrypoints.includes(TOPOLOGY_ERRORS_ENTRYPOINT) ? ev.evaluate<unknown>(TOPOLOGY_ERRORS_ENTRYPOINT, {}) : null;
    const errors = Array.isArray(errs) ? errs.filter((e): e is string => typeof e === 'string') : [];
    if (errors.length > 0) return { config: null, version: ev.version, errors };
    const value = ev.evaluate<unknown>(TOPOLOGY_ENTRYPOINT, {});
    if (value === undefined || value === null) return null;
    return { config: value as TopologyConfig, version: ev.version };
  }

  /** validate loads the bundle with opa-wasm and checks the entrypoints the controller evaluates. */
  async validate(bundle: Buffer, source: string): Promise<{ version: string }> {
    const parsed = parsePolicyBundle(bundle, source);
    const evaluator = await PolicyEvaluator.fromBundle(parsed, this.clockOpt());
    const missing = REQUIRED_ENTRYPOINTS.filter((e) => !evaluator.entrypoints.includes(e));
    if (missing.length > 0) throw policyErrors.bundleInvalid(source, `lacks the entrypoints ${missing.join(', ')} (build with -e for each)`);
    return { version: parsed.version };
  }

  async explain(q: AccessQuestion): Promise<AccessAnswer> {
    const evaluator = await this.current();
    if (!evaluator) throw policyErrors.bundleInvalid('controller', 'no policy is active; push one with `trellis policy push <dir>`');
    const input = {
      src: { node: q.src.name, user: q.src.user, groups: q.src.groups, tags: q.src.tags, ip: q.src.ip, quarantined: q.src.quarantined },
      dst: { node: q.dst.name, user: q.dst.user, groups: q.dst.groups, tags: q.dst.tags, ip: q.dst.ip, subnets: [], quarantined: q.dst.quarantined },
      proto: q.proto,
      port: q.port,
    };
    const d = evaluator.evaluate<{ allow?: unknown; reasons?: unknown }>(DECISION_ENTRYPOINT, input);
    const allow = d?.allow === true;
    const reasons = Array.isArray(d?.reasons) ? d!.reasons.filter((r): r is string => typeof r === 'string') : ['the policy gave no decision (default deny)'];
    return { allow, reasons, policyVersion: evaluator.version };
  }

  /**
   * decideAccess answers core's access question from trellis/access/grants: for the whole mesh
   * (scope 'mesh') or the nodes that changed ('nodes'). null when no policy is active (the mesh
   * stays open, as without the plugin). A failed evaluation is logged and the last good decision
   * stays in force.
   */
  async decideAccess(request: AccessDecisionRequest): Promise<AccessDecision | null> {
    const evaluator = await this.current();
    if (!evaluator) return null;
    const started = performance.now();
    try {
      const reads = request.scope === 'mesh' && this.o.netmapClasses !== false ? this.nodeReads(evaluator) : null;
      const known = this.grantList?.version === evaluator.version ? this.grantList.grants : undefined;
      const evaluated = evaluateGrants(evaluator, request.nodes, reads, known);
      if (!known) this.grantList = { version: evaluator.version, grants: evaluated.grants };
      this.lastDecisionStats = { scope: request.scope, ...evaluated.stats, evalMs: performance.now() - started };
      if (request.scope === 'mesh') {
        this.lastGood = { version: evaluator.version, grants: evaluated.grants, nodes: evaluated.nodes };
      } else if (this.lastGood?.version === evaluator.version) {
        for (const n of request.nodes) {
          const ng = evaluated.nodes.get(n.id);
          if (ng) this.lastGood.nodes.set(n.id, ng);
          else this.lastGood.nodes.delete(n.id);
        }
      }
      return { version: evaluator.version, grants: evaluated.grants, nodes: evaluated.nodes };
    } catch (err) {
      this.o.log.error({ err: (err as Error).message, policyVersion: evaluator.version, scope: request.scope }, 'access policy evaluation failed; keeping the last good peers and filters');
      // With nothing good yet every node is cut off, under a version no evaluation gives.
      const last = this.lastGood ?? { version: `${evaluator.version}:failed`, grants: [], nodes: new Map<string, NodeGrants>() };
      if (request.scope === 'mesh') return { version: last.version, grants: last.grants, nodes: last.nodes };
      const nodes = new Map<string, NodeGrants>();
      for (const n of request.nodes) {
        const ng = last.nodes.get(n.id);
        if (ng) nodes.set(n.id, ng);
      }
      return { version: last.version, grants: last.grants, nodes };
    }
  }

  /** mapExtension is posture-opa's part of a node's map: the policy version, and whether (and why) the node is quarantined. */
  mapExtension(node: NodeInfo): PostureOpaExtension | null {
    const evaluator = this.evaluator;
    if (!evaluator) return null;
    if (isQuarantined(node)) return { version: evaluator.version, quarantined: true, reasons: [...(node.posture?.reasons ?? [])] };
    if (this.plain?.version !== evaluator.version) this.plain = { version: evaluator.version, extension: Object.freeze({ version: evaluator.version, quarantined: false }) };
    return this.plain.extension;
  }

  private nodeReads(evaluator: PolicyEvaluator): NodeReads | null {
    if (this.reads.has(evaluator.version)) return this.reads.get(evaluator.version)!;
    const reads = nodeReadsOf(evaluator);
    if (evaluator.entrypoints.includes(NODE_READS_ENTRYPOINT) && !reads) {
      this.o.log.warn({ policyVersion: evaluator.version }, 'node_reads is not node-classes/v2 or names a prefix it cannot read exactly; evaluating grants over every node');
    }
    this.reads.set(evaluator.version, reads);
    return reads;
  }
}

/** nodeReadsOf reads what the loaded policy says it reads of a node; null without a usable node_reads. */
export function nodeReadsOf(evaluator: PolicyEvaluator): NodeReads | null {
  return evaluator.entrypoints.includes(NODE_READS_ENTRYPOINT) ? readNodeReads(evaluator.evaluate(NODE_READS_ENTRYPOINT, {})) : null;
}

/**
 * evaluateGrants runs trellis/access/grants over one representative per class of alike nodes when
 * reads (the policy's node_reads) is given and the nodes can be partitioned by it, else over every
 * node given; each member gets its representative's grants. known: the version's grants list, to share.
 */
export function evaluateGrants(
  evaluator: PolicyEvaluator,
  nodes: readonly NodeInfo[],
  reads: NodeReads | null,
  known?: readonly AccessGrant[],
): EvaluatedGrants & { stats: Omit<AccessDecisionStats, 'scope' | 'evalMs'> } {
  const input = netmapsInput(nodes);
  const source = `policy ${evaluator.version.slice(0, 12)}`;
  const partition = reads ? partitionNodes(input.nodes, reads) : null;
  if (!partition) {
    const byId = new Map(input.nodes.map((n) => [n.id, n.addresses]));
    const evaluated = readGrants(evaluator.evaluate(GRANTS_ENTRYPOINT, input), source, known, (id) => byId.get(id));
    return { ...evaluated, stats: { mode: 'direct', nodes: input.nodes.length, evaluatedNodes: input.nodes.length, classes: null } };
  }
  const reps = partition.classes.map((c) => c.members[0]!);
  const repAddrs = new Map(reps.map((n) => [n.id, n.addresses]));
  const evaluated = readGrants(evaluator.evaluate(GRANTS_ENTRYPOINT, { nodes: reps }), source, known, (id) => repAddrs.get(id));
  const out = new Map<string, NodeGrants>();
  for (const c of partition.classes) {
    const rep = c.members[0]!;
    const ng = evaluated.nodes.get(rep.id);
    if (!ng) continue;
    for (const m of c.members) out.set(m.id, forMember(ng, rep.addresses, m.addresses));
  }
  return { grants: evaluated.grants, nodes: out, stats: { mode: 'classes', nodes: input.nodes.length, evaluatedNodes: reps.length, classes: partition.classes.length } };
}
