/**
 * PolicyEvaluator: one warm opa-wasm instance of a compiled policy bundle. Evaluations are
 * synchronous and reuse the instance; the builtins opa's wasm target leaves to the host
 * (semver.compare, time.now_ns) come from OpaHostBuiltins with an injectable clock.
 */
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { OpaHostBuiltins, type WallClock } from './opa-builtins';
import { policyErrors } from './errors';
import { loadPolicyBundle, type PolicyBundle } from './policy-bundle';

export interface PolicyEvaluatorOptions {
  /** Unix ms; time.now_ns reads it. Defaults to Date.now. */
  clock?: WallClock;
  /** Data to use instead of the bundle's data.json. */
  data?: Record<string, unknown>;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  return String(err);
}

export class PolicyEvaluator {
  private constructor(
    private readonly policy: LoadedPolicy,
    private readonly host: OpaHostBuiltins,
    /** The policy version id (sha256 of the bundle). */
    readonly version: string,
    /** Where the bundle came from. */
    readonly source: string,
    private data: Record<string, unknown>,
  ) {}

  /** fromBundle instantiates a bundle's wasm module and loads its data. */
  static async fromBundle(bundle: PolicyBundle, opts: PolicyEvaluatorOptions = {}): Promise<PolicyEvaluator> {
    const host = new OpaHostBuiltins(opts.clock);
    let policy: LoadedPolicy;
    try {
      policy = await loadPolicy(bundle.wasm, undefined, host.implementations);
    } catch (err) {
      throw policyErrors.bundleInvalid(bundle.source, `its wasm module does not load (${describe(err)})`);
    }
    const evaluator = new PolicyEvaluator(policy, host, bundle.version, bundle.source, {});
    evaluator.setData(opts.data ?? bundle.data);
    return evaluator;
  }

  /** fromFile loads a bundle.tgz or policy.wasm from disk. */
  static async fromFile(path: string, opts: PolicyEvaluatorOptions = {}): Promise<PolicyEvaluator> {
    return PolicyEvaluator.fromBundle(await loadPolicyBundle(path), opts);
  }

  /** The entrypoints compiled into the module, e.g. "trellis/posture/decision". */
  get entrypoints(): string[] {
    return Object.keys(this.policy.entrypoints as Record<string, number>).sort();
  }

  /** The data document in force. */
  get currentData(): Record<string, unknown> {
    return this.data;
  }

  /**
   * evaluate runs one entrypoint on input and returns its value, or undefined when the rule is
   * undefined for that input.
   */
  evaluate<T = unknown>(entrypoint: string, input: unknown): T | undefined {
    const known = this.policy.entrypoints as Record<string, number>;
    if (!Object.prototype.hasOwnProperty.call(known, entrypoint)) {
      throw policyErrors.entrypointUnknown(entrypoint, this.entrypoints);
    }
    let text: string | undefined;
    try {
      text = input === undefined ? undefined : JSON.stringify(input);
    } catch (err) {
      throw policyErrors.evalFailed(entrypoint, `input is not JSON (${describe(err)})`);
    }
    this.host.beginQuery();
    let results: unknown;
    try {
      // An ArrayBuffer input is taken as JSON text as is; an empty input means "no input".
      results = this.policy.evaluate(text === undefined ? undefined : new TextEncoder().encode(text).buffer, entrypoint);
    } catch (err) {
      throw policyErrors.evalFailed(entrypoint, describe(err));
    }
    if (!Array.isArray(results) || results.length === 0) return undefined;
    return (results[0] as { result: T }).result;
  }

  /** setData replaces the data document; bad data is refused and the previous data stays. */
  setData(data: Record<string, unknown>): void {
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw policyErrors.dataInvalid('data must be a JSON object');
    }
    let text: string;
    try {
      text = JSON.stringify(data);
    } catch (err) {
      throw policyErrors.dataInvalid(`it is not JSON (${describe(err)})`);
    }
    const previous = JSON.stringify(this.data);
    try {
      this.policy.setData(new TextEncoder().encode(text).buffer);
    } catch (err) {
      this.policy.setData(new TextEncoder().encode(previous).buffer);
      throw policyErrors.dataInvalid(describe(err));
    }
    this.data = JSON.parse(text) as Record<string, unknown>;
  }
}
