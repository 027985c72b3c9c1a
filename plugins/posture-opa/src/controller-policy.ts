/**
 * ControllerPolicy: the posture-opa plugin on the controller. It registers the policy engine
 * (compile + test with the real opa, validate bundles, explain decisions), evaluates the active
 * version (always the controller's active pointer, reloaded when it moves), and turns
 * trellis/access/netmaps into each node's visible peers and packet filter: per class of alike
 * nodes when the policy declares its class contract (netmap-classes.ts), else over all nodes.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import {
  TrellisError,
  type AccessAnswer,
  type AccessQuestion,
  type ControllerPolicyAccess,
  type MapsBuildContext,
  type NetworkMapData,
  type NodeInfo,
  type PeerNode,
  type PluginLogger,
  type PolicyEngine,
  type PolicySource,
  type PreparedPolicy,
} from '@trellis/core/api';
import { policyErrors } from './errors';
import type { WallClock } from './opa-builtins';
import { expandClasses, indexFromPairs, netmapsFromIndex, partitionNodes, repInput } from './netmap-classes';
import { directView, emptyView, type NetmapsView, type RegoNetmap, type SharedPeerLists } from './netmap-view';
import { compilePolicies, testPolicies } from './opa-cli';
import { parsePolicyBundle } from './policy-bundle';
import { PolicyEvaluator } from './wasm-evaluator';

/** The key of the map extension that carries the active policy version to agents. */
export const EXTENSION_KEY = 'posture-opa';
export const NETMAPS_ENTRYPOINT = 'trellis/access/netmaps';
export const DECISION_ENTRYPOINT = 'trellis/access/decision';
/**
 * The optional per-rule index (rule -> source nodes, destination nodes and addresses) netmaps is
 * computed from, as (rule, node) pairs; in class mode the controller expands it itself
 * (indexFromPairs, netmapsFromIndex).
 */
export const NETMAP_INDEX_ENTRYPOINT = 'trellis/access/netmap_pairs';
/** The optional entrypoint by which an access policy declares how netmaps reads nodes. */
export const CLASS_CONTRACT_ENTRYPOINT = 'trellis/access/class_contract';
/** The class contract netmap-classes.ts implements. */
export const CLASS_CONTRACT = 'node-classes/v1';
/** Entrypoints a bundle must have to be activated on the controller. */
export const REQUIRED_ENTRYPOINTS = [NETMAPS_ENTRYPOINT, DECISION_ENTRYPOINT, 'trellis/posture/decision'] as const;

export type { RegoNetmap } from './netmap-view';

export interface ControllerPolicyOptions {
  access: ControllerPolicyAccess;
  log: PluginLogger;
  clock?: WallClock;
  /** opa binary for push (compile/test); default resolveOpaBinary(). */
  opaPath?: string;
  /** Evaluate netmaps per class of alike nodes when the policy allows it (default true). */
  netmapClasses?: boolean;
}

/** How the last netmaps evaluation went, for logs and benchmarks. */
export interface NetmapsStats {
  mode: 'classes' | 'direct';
  nodes: number;
  /** Nodes the policy was evaluated over (representatives in class mode). */
  evaluatedNodes: number;
  classes: number | null;
  evalMs: number;
}

/**
 * findShippedBundle looks for policies/dist/bundle.tgz (built by `npx nx run policies:build`) from
 * the working directory and from this file, walking up.
 */
export function findShippedBundle(): string | null {
  for (const start of [process.cwd(), __dirname]) {
    let dir = resolve(start);
    for (;;) {
      const candidate = join(dir, 'policies', 'dist', 'bundle.tgz');
      if (existsSync(candidate)) return candidate;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return null;
}

/** isQuarantined: the controller's last decision says non-compliant (no decision yet is not quarantine). */
export const isQuarantined = (n: Pick<NodeInfo, 'posture'>): boolean => n.posture !== null && n.posture.compliant === false;

/** netmapsInput is the trellis/access/netmaps input for the approved nodes of the mesh. */
export function netmapsInput(nodes: readonly NodeInfo[]): { nodes: Array<Record<string, unknown>> } {
  return {
    nodes: nodes
      .filter((n) => n.approved)
      .map((n) => ({
        id: n.id,
        name: n.name,
        user: n.user,
        tags: n.tags,
        groups: n.groups,
        addresses: n.addresses,
        quarantined: isQuarantined(n),
      })),
  };
}

/** The context core's MapBuilder passes to transformNetworkMaps (core/src/controller/map-builder.ts). */
interface SharedPeersContext extends SharedPeerLists {
  peerEntries: ReadonlyMap<string, PeerNode>;
}

/** withoutPeers copies a map with new peers, filter and extensions, never reading its old peers (which may be built on read). */
function withoutPeers(map: NetworkMapData, peers: PeerNode[], packetFilter: NetworkMapData['packetFilter'], extensions: NetworkMapData['extensions']): NetworkMapData {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(map)) if (key !== 'peers') out[key] = (map as unknown as Record<string, unknown>)[key];
  return { ...(out as unknown as NetworkMapData), peers, packetFilter, extensions };
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

function rewriteMessage(err: unknown, from: string, to: string): unknown {
  if (!(err instanceof TrellisError)) return err;
  return new TrellisError(err.code, err.message.split(from).join(to), err.details);
}

export class ControllerPolicy {
  private evaluator: PolicyEvaluator | null = null;
  /** Last successful netmaps result, kept when an evaluation fails so the mesh does not flap open or shut. */
  private lastGood: NetmapsView = emptyView;
  /** Whether each loaded version declares the class contract, by version. */
  private readonly contract = new Map<string, boolean>();
  lastNetmapsStats: NetmapsStats | null = null;
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
   * transformMaps keeps only the peers each node may reach or be reached by, sets its packet filter
   * (default deny: no entry means []) and the policy version extension. Unapproved nodes get nothing.
   */
  async transformMaps(maps: NetworkMapData[], ctx: MapsBuildContext): Promise<NetworkMapData[]> {
    const evaluator = await this.current();
    if (!evaluator) return maps;
    let view: NetmapsView;
    try {
      view = this.evaluateNetmaps(evaluator, ctx.nodes);
      this.lastGood = view;
    } catch (err) {
      this.o.log.error({ err: (err as Error).message, policyVersion: evaluator.version }, 'access policy evaluation failed; keeping the last good peers and filters');
      view = this.lastGood;
    }
    const info = new Map(ctx.nodes.map((n) => [n.id, n]));
    const { peerEntries: entries, peersWithout, peersAt } = ctx as MapsBuildContext & Partial<SharedPeersContext>;
    const shared: SharedPeerLists = {
      ...(typeof peersWithout === 'function' ? { peersWithout } : {}),
      ...(typeof peersAt === 'function' ? { peersAt } : {}),
    };
    // Most maps carry no other extension and are not quarantined: they share one read-only object.
    const plainExtensions = Object.freeze({ [EXTENSION_KEY]: Object.freeze({ version: evaluator.version, quarantined: false }) });
    return maps.map((map, i) => {
      // MapBuilder passes ctx.nodes in the maps' order; anything else is looked up by id.
      const self = ctx.nodes[i]?.id === map.self.id ? ctx.nodes[i] : info.get(map.self.id);
      // The node learns the controller's verdict on it, so `trellis status` can say why it was cut off.
      const quarantined = self !== undefined && isQuarantined(self);
      const extensions =
        !quarantined && isEmpty(map.extensions)
          ? plainExtensions
          : { ...map.extensions, [EXTENSION_KEY]: quarantined ? { version: evaluator.version, quarantined: true, reasons: [...(self.posture?.reasons ?? [])] } : { version: evaluator.version, quarantined: false } };
      const r = self?.approved ? view.get(map.self.id) : undefined;
      if (!r) return withoutPeers(map, [], [], extensions);
      // Untouched full mesh (peers still the builder's accessor): pick from the shared entries.
      const fullMesh = entries instanceof Map && typeof Object.getOwnPropertyDescriptor(map, 'peers')?.get === 'function';
      const peers = fullMesh && r.peersAmong ? r.peersAmong(entries, shared) : r.filterPeers(map.peers);
      return withoutPeers(map, peers, r.packetFilter, extensions);
    });
  }

  /**
   * evaluateNetmaps runs trellis/access/netmaps: over class representatives when the policy
   * declares the class contract and the mesh fits it, else over every approved node.
   */
  evaluateNetmaps(evaluator: PolicyEvaluator, nodes: readonly NodeInfo[]): NetmapsView {
    const started = performance.now();
    const input = netmapsInput(nodes);
    if (this.o.netmapClasses !== false && this.hasClassContract(evaluator)) {
      const acls = (evaluator.currentData.trellis as Record<string, unknown> | undefined)?.acls;
      const partition = partitionNodes(input.nodes, acls);
      if (partition) {
        const reps = repInput(partition);
        let value: Record<string, RegoNetmap> | null | undefined;
        if (evaluator.entrypoints.includes(NETMAP_INDEX_ENTRYPOINT)) {
          const index = indexFromPairs(evaluator.evaluate(NETMAP_INDEX_ENTRYPOINT, reps));
          value = index && netmapsFromIndex(partition, index);
          if (!value) this.o.log.warn({ policyVersion: evaluator.version }, 'netmap_pairs has an unexpected shape; evaluating netmaps over the representatives');
        }
        value ??= evaluator.evaluate<Record<string, RegoNetmap>>(NETMAPS_ENTRYPOINT, reps);
        const view = expandClasses(partition, value && typeof value === 'object' ? value : {});
        if (view) {
          this.lastNetmapsStats = { mode: 'classes', nodes: input.nodes.length, evaluatedNodes: reps.nodes.length, classes: partition.classes.length, evalMs: performance.now() - started };
          return view;
        }
        this.o.log.warn({ policyVersion: evaluator.version }, 'netmaps over class representatives broke the class contract; evaluating over every node');
      }
    }
    const value = evaluator.evaluate<Record<string, RegoNetmap>>(NETMAPS_ENTRYPOINT, input);
    this.lastNetmapsStats = { mode: 'direct', nodes: input.nodes.length, evaluatedNodes: input.nodes.length, classes: null, evalMs: performance.now() - started };
    return directView(value && typeof value === 'object' ? value : {});
  }

  private hasClassContract(evaluator: PolicyEvaluator): boolean {
    let known = this.contract.get(evaluator.version);
    if (known === undefined) {
      known = evaluator.entrypoints.includes(CLASS_CONTRACT_ENTRYPOINT) && evaluator.evaluate(CLASS_CONTRACT_ENTRYPOINT, {}) === CLASS_CONTRACT;
      this.contract.set(evaluator.version, known);
    }
    return known;
  }
}
