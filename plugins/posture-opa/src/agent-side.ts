/**
 * AgentPosture: the agent half of posture-opa. The controller names the active policy version in
 * every map (extensions['posture-opa'].version) and serves its bundle at GET /v1/policy/bundle;
 * the agent fetches it when the version changes, evaluates posture locally with the same policy
 * the controller uses, and asks for a facts round so the new decision is reported at once. A
 * bundle that cannot be fetched or loaded leaves the previous one in force and is retried.
 */
import type { AgentAccess, NetworkMap, PluginLogger, PostureDecision } from '@trellis/core/api';
import type { WallClock } from './opa-builtins';
import { parsePolicyBundle } from './policy-bundle';
import { PolicyEvaluator } from './wasm-evaluator';

export const POLICY_BUNDLE_PATH = '/v1/policy/bundle';
export const POLICY_VERSION_HEADER = 'x-trellis-policy-version';
/** The map extension key (the plugin's name). */
export const POSTURE_EXTENSION = 'posture-opa';

/** What the controller puts in map.extensions['posture-opa']. */
export interface PostureExtension {
  version?: string;
  /** Set by controllers that tell a node it is quarantined (optional in the contract). */
  quarantined?: boolean;
  reasons?: string[];
}

/** The posture section of `trellis status` (AgentStatus.extensions['posture-opa']). */
export interface AgentPostureStatus {
  /** The policy version evaluating posture here; null when none is loaded. */
  policyVersion: string | null;
  /** The version the controller's map names; differs from policyVersion while a fetch is due. */
  wantedVersion: string | null;
  /** Why the last bundle fetch failed; null after a success. */
  fetchError: string | null;
  compliant: boolean | null;
  /** The failed checks of the last local decision, with their reasons, in the policy's order. */
  failedChecks: Array<{ check: string; reason: string }>;
  checks: Record<string, boolean>;
  /** True when the controller's map says this node is quarantined; null when the map does not say. */
  quarantinedByController: boolean | null;
  controllerReasons: string[];
}

export interface AgentPostureOptions {
  log: PluginLogger;
  agent: AgentAccess;
  clock?: WallClock;
  /** A bundle loaded from config, used until the controller names one. */
  initial?: PolicyEvaluator | null;
  /** Delay before retrying a failed fetch, ms. Default 5000. */
  retryMs?: number;
}

type Decision = PostureDecision & { checks?: Record<string, boolean> };

export class AgentPosture {
  private current: PolicyEvaluator | null;
  private wanted: string | null = null;
  private fetching: Promise<void> | null = null;
  private fetchError: string | null = null;
  private retry: NodeJS.Timeout | null = null;
  private last: Decision | null = null;
  private ext: PostureExtension | null = null;
  private stopped = false;

  constructor(private readonly opts: AgentPostureOptions) {
    this.current = opts.initial ?? null;
  }

  get evaluator(): PolicyEvaluator | null {
    return this.current;
  }

  /** record keeps the last local decision for the status section. */
  record(decision: Decision): void {
    this.last = decision;
  }

  /** onNetworkMap notes the controller's policy version and fetches its bundle when it changed. */
  async onNetworkMap(map: NetworkMap): Promise<void> {
    const raw = map.extensions[POSTURE_EXTENSION];
    this.ext = raw && typeof raw === 'object' ? (raw as PostureExtension) : null;
    const version = typeof this.ext?.version === 'string' ? this.ext.version : null;
    this.wanted = version;
    if (version !== null && version !== this.current?.version) await this.ensureFetched();
  }

  private ensureFetched(): Promise<void> {
    if (!this.fetching) this.fetching = this.fetchBundle().finally(() => (this.fetching = null));
    return this.fetching;
  }

  private async fetchBundle(): Promise<void> {
    const { agent, log } = this.opts;
    const wanted = this.wanted;
    if (this.stopped || wanted === null || wanted === this.current?.version) return;
    if (!agent.fetchFromController) {
      this.fail(wanted, 'this agent cannot fetch from the controller (its core predates fetchFromController)');
      return;
    }
    try {
      const res = await agent.fetchFromController(POLICY_BUNDLE_PATH);
      if (res.status !== 200) {
        const text = res.body.toString('utf8').slice(0, 300);
        throw new Error(`GET ${POLICY_BUNDLE_PATH} answered ${res.status}${text ? `: ${text}` : ''}`);
      }
      const bundle = parsePolicyBundle(res.body, `controller ${POLICY_BUNDLE_PATH}`);
      const evaluator = await PolicyEvaluator.fromBundle(bundle, this.opts.clock ? { clock: this.opts.clock } : {});
      const header = res.headers[POLICY_VERSION_HEADER];
      if (header && header !== evaluator.version) {
        log.warn({ header, computed: evaluator.version }, 'policy bundle version header differs from the sha256 of the bytes; using the bytes');
      }
      if (this.stopped) return;
      const previous = this.current?.version ?? null;
      this.current = evaluator;
      this.fetchError = null;
      log.info({ policyVersion: evaluator.version, previous, wanted }, 'policy bundle fetched from the controller; re-evaluating posture');
      agent.requestFactsRefresh();
      // The map may have moved on while we fetched: fetch again if so.
      if (this.wanted !== null && this.wanted !== evaluator.version && this.wanted !== wanted) this.scheduleRetry(0);
    } catch (err) {
      this.fail(wanted, (err as Error).message);
    }
  }

  private fail(wanted: string, why: string): void {
    this.fetchError = why;
    this.opts.log.error(
      { wanted, keeping: this.current?.version ?? null, err: why },
      `could not load policy bundle ${wanted.slice(0, 12)} from the controller; posture keeps being evaluated with ${
        this.current ? `policy ${this.current.version.slice(0, 12)}` : 'no policy (no local decision)'
      } and the fetch is retried`,
    );
    this.scheduleRetry(this.opts.retryMs ?? 5000);
  }

  private scheduleRetry(ms: number): void {
    if (this.stopped || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.ensureFetched();
    }, ms);
    this.retry.unref();
  }

  status(): AgentPostureStatus {
    const checks = this.last?.checks ?? {};
    const reasons = this.last?.reasons ?? [];
    const failed = Object.keys(checks).filter((c) => checks[c] === false);
    // The policy gives one reason per failed check, in its check order; pair them when they line up.
    const failedChecks =
      failed.length === reasons.length
        ? orderLike(failed).map((check, i) => ({ check, reason: reasons[i] }))
        : reasons.map((reason) => ({ check: '', reason }));
    return {
      policyVersion: this.current?.version ?? null,
      wantedVersion: this.wanted,
      fetchError: this.fetchError,
      compliant: this.last ? this.last.compliant : null,
      failedChecks,
      checks,
      quarantinedByController: typeof this.ext?.quarantined === 'boolean' ? this.ext.quarantined : null,
      controllerReasons: Array.isArray(this.ext?.reasons) ? this.ext.reasons.filter((r): r is string => typeof r === 'string') : [],
    };
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
  }
}

/** The posture policy's check order (policies/posture/posture.rego check_order). */
const CHECK_ORDER = [
  'os_version',
  'kernel_version',
  'agent_version',
  'disk_encryption',
  'firewall',
  'required_processes',
  'forbidden_processes',
  'wg_key_age',
];

function orderLike(failed: string[]): string[] {
  const rank = (c: string) => (CHECK_ORDER.includes(c) ? CHECK_ORDER.indexOf(c) : CHECK_ORDER.length);
  return [...failed].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}
