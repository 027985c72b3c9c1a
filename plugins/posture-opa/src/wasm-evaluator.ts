/**
 * PolicyEvaluator: one warm opa-wasm instance of a compiled policy bundle. Evaluations are
 * synchronous and reuse the instance; the builtins opa's wasm target leaves to the host
 * (semver.compare, time.now_ns) come from OpaHostBuiltins with an injectable clock.
 */
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { OpaHostBuiltins, type WallClock } from './opa-builtins';
import { TrellisError } from '@trellis/core/api';
import { policyErrors } from './errors';
import { loadPolicyBundle, type PolicyBundle } from './policy-bundle';

/**
 * Values derived from the data document alone, evaluated once at setData time and stored at path
 * in the data the policy sees (currentData stays as given). The policy must read them only when
 * they are present and fall back to computing them (see decision_index in access.rego).
 */
export const PREPARED_DATA: ReadonlyArray<{ entrypoint: string; path: readonly string[] }> = [
  { entrypoint: 'trellis/access/build_decision_index', path: ['trellis', 'access_index'] },
  { entrypoint: 'trellis/posture/build_posture_index', path: ['trellis', 'posture_index'] },
];

export interface PolicyEvaluatorOptions {
  /** Unix ms; time.now_ns reads it. Defaults to Date.now. */
  clock?: WallClock;
  /** Data to use instead of the bundle's data.json. */
  data?: Record<string, unknown>;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  return String(err);
}

/**
 * fastEvalOf gives LoadedPolicy.evaluate's ABI 1.2 path (one opa_eval call) without its per-call
 * allocations: the input text is encoded straight into the module's memory above the data, and the
 * result is read back with one shared decoder. That saves several microseconds per call, a large
 * share of a decision on a small input. null for modules older than ABI 1.2 (use evaluate).
 */
function fastEvalOf(p: LoadedPolicy): FastEval | null {
  // wasmInstance is an Instance, or a {module, instance} pair depending on how it was made.
  const holder = p.wasmInstance as unknown as { instance?: { exports: Record<string, unknown> }; exports?: Record<string, unknown> };
  const exports = (holder.instance ?? holder).exports ?? {};
  if (!(typeof p.minorVersion === 'number' && p.minorVersion >= 2) || typeof exports.opa_eval !== 'function') return null;
  const opaEval = exports.opa_eval as (reserved: number, entrypoint: number, data: number, input: number, inputLen: number, heap: number, format: number) => number;
  return (entrypointId, text) => {
    const mem = p.mem;
    const base = p.dataHeapPtr as number;
    let inputLen = 0;
    if (text !== undefined) {
      // UTF-8 takes at most 3 bytes per UTF-16 code unit.
      const short = base + text.length * 3 - mem.buffer.byteLength;
      if (short > 0) mem.grow(Math.ceil(short / 65536));
      inputLen = utf8.encodeInto(text, new Uint8Array(mem.buffer, base)).written;
    }
    // The heap for the evaluation starts after the input; the result is NUL-terminated JSON.
    const at = opaEval(0, entrypointId, p.dataAddr, text === undefined ? 0 : base, inputLen, base + inputLen, 0);
    const bytes = new Uint8Array(mem.buffer);
    const end = bytes.indexOf(0, at);
    return JSON.parse(utf8Decoder.decode(bytes.subarray(at, end < 0 ? bytes.length : end)));
  };
}

/** FastEval evaluates one entrypoint (by id) on input JSON text (undefined: no input). */
type FastEval = (entrypointId: number, text: string | undefined) => unknown;

export class PolicyEvaluator {
  private constructor(
    private readonly policy: LoadedPolicy,
    private readonly host: OpaHostBuiltins,
    /** The policy version id (sha256 of the bundle). */
    readonly version: string,
    /** Where the bundle came from. */
    readonly source: string,
    private data: Record<string, unknown>,
  ) {
    this.fastEval = fastEvalOf(policy);
  }

  private readonly fastEval: FastEval | null;

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
      results = this.fastEval ? this.fastEval(known[entrypoint]!, text) : this.policy.evaluate(text === undefined ? undefined : utf8.encode(text).buffer, entrypoint);
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
      this.policy.setData(utf8.encode(text).buffer);
      const prepared = this.prepareData(JSON.parse(text) as Record<string, unknown>);
      if (prepared) this.policy.setData(utf8.encode(prepared).buffer);
    } catch (err) {
      this.policy.setData(utf8.encode(previous).buffer);
      const again = this.prepareData(JSON.parse(previous) as Record<string, unknown>);
      if (again) this.policy.setData(utf8.encode(again).buffer);
      throw err instanceof TrellisError ? err : policyErrors.dataInvalid(describe(err));
    }
    this.data = JSON.parse(text) as Record<string, unknown>;
  }

  /**
   * prepareData evaluates, once per data document, the values a policy declares as derived from
   * data alone (PREPARED_DATA) and returns the data text with them stored where the policy looks
   * for them, or null when the bundle has none. Without this every decision would re-derive them.
   */
  private prepareData(data: Record<string, unknown>): string | null {
    const known = this.policy.entrypoints as Record<string, number>;
    let changed = false;
    for (const { entrypoint, path } of PREPARED_DATA) {
      if (!Object.prototype.hasOwnProperty.call(known, entrypoint)) continue;
      const value = this.evaluate(entrypoint, {});
      let at: Record<string, unknown> = data;
      for (const key of path.slice(0, -1)) {
        const next = at[key] ?? {};
        if (typeof next !== 'object' || next === null || Array.isArray(next)) break;
        at = at[key] = { ...(next as Record<string, unknown>) };
      }
      if (at === data && path.length > 1) continue;
      if (value === undefined) delete at[path[path.length - 1]!];
      else at[path[path.length - 1]!] = value;
      changed = true;
    }
    return changed ? JSON.stringify(data) : null;
  }
}
