/**
 * The posture-opa plugin object. Agent side: evaluatePosture runs trellis/posture/decision on the
 * device's facts with the bundle named in config. Controller side: setup loads the same bundle so
 * later work can evaluate access and posture while maps are built.
 */
import { resolve } from 'node:path';
import { definePlugin, type Facts, type JsonSchema, type PostureDecision, type TrellisPlugin } from '@trellis/core/api';
import type { WallClock } from './opa-builtins';
import { PolicyEvaluator } from './wasm-evaluator';

export const PLUGIN_NAME = 'posture-opa';
export const POSTURE_ENTRYPOINT = 'trellis/posture/decision';

export interface PostureOpaConfig {
  /** Path of bundle.tgz (from `opa build -t wasm`) or policy.wasm; relative to the working directory. */
  bundle: string;
}

export interface PostureOpaPluginOptions {
  /** Clock for time.now_ns (key age); defaults to Date.now. */
  clock?: WallClock;
}

/** The Rego decision: PostureDecision plus the per-check results. */
export interface RegoPostureDecision {
  compliant: boolean;
  reasons: string[];
  checks: Record<string, boolean>;
}

export type PostureOpaPlugin = TrellisPlugin<PostureOpaConfig> & {
  /** The loaded evaluator, once setup ran (null before and after shutdown). */
  evaluator(): PolicyEvaluator | null;
};

export const configSchema: JsonSchema = {
  type: 'object',
  properties: { bundle: { type: 'string', minLength: 1 } },
  required: ['bundle'],
  additionalProperties: false,
};

function isDecision(v: unknown): v is RegoPostureDecision {
  const d = v as RegoPostureDecision;
  return typeof v === 'object' && v !== null && typeof d.compliant === 'boolean' && Array.isArray(d.reasons) && d.reasons.every((r) => typeof r === 'string');
}

/** evaluatePostureWith runs the posture entrypoint on facts and shapes a PostureDecision. */
export function evaluatePostureWith(evaluator: PolicyEvaluator, facts: Facts): PostureDecision & { checks: Record<string, boolean> } {
  const d = evaluator.evaluate<unknown>(POSTURE_ENTRYPOINT, facts);
  if (!isDecision(d)) {
    return {
      compliant: false,
      reasons: [`policy ${evaluator.source} gave no posture decision (${POSTURE_ENTRYPOINT} is undefined for these facts)`],
      checks: {},
      policyVersion: evaluator.version,
    };
  }
  return { compliant: d.compliant, reasons: d.reasons, checks: d.checks ?? {}, policyVersion: evaluator.version };
}

/** createPostureOpaPlugin makes a fresh plugin instance (its own evaluator). */
export function createPostureOpaPlugin(opts: PostureOpaPluginOptions = {}): PostureOpaPlugin {
  let evaluator: PolicyEvaluator | null = null;
  const plugin = definePlugin<PostureOpaConfig>({
    manifest: {
      name: PLUGIN_NAME,
      version: '0.1.0',
      apiRange: '^1.0.0',
      configSchema,
      sides: ['agent', 'controller'],
    },
    async setup(ctx) {
      const path = resolve(ctx.config.bundle);
      evaluator = await PolicyEvaluator.fromFile(path, opts.clock ? { clock: opts.clock } : {});
      ctx.log.info({ bundle: path, policyVersion: evaluator.version, entrypoints: evaluator.entrypoints }, 'policy bundle loaded');
    },
    evaluatePosture(facts) {
      if (!evaluator) return null;
      return evaluatePostureWith(evaluator, facts);
    },
    shutdown() {
      evaluator = null;
    },
  });
  return Object.assign(plugin, { evaluator: () => evaluator });
}

/** The default instance, found by the plugin loader. */
export const postureOpaPlugin: PostureOpaPlugin = createPostureOpaPlugin();
