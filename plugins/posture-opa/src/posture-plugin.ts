/**
 * The posture-opa plugin object. Agent side: evaluatePosture runs trellis/posture/decision on the
 * device's facts with the bundle named in config. Controller side: the active policy decides
 * posture (evaluatePosture) and access (decideAccess), and each node's map carries the policy
 * version and its quarantine verdict (mapExtension).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { definePlugin, type Facts, type JsonSchema, type PostureDecision, type TrellisPlugin } from '@trellis/core/api';
import { AgentPosture } from './agent-side';
import { renderPostureStatus } from './status-text';
import { ControllerPolicy, findShippedBundle } from './controller-policy';
import { policyErrors } from './errors';
import type { WallClock } from './opa-builtins';
import { PolicyEvaluator } from './wasm-evaluator';

export const PLUGIN_NAME = 'posture-opa';
export const POSTURE_ENTRYPOINT = 'trellis/posture/decision';

export interface PostureOpaConfig {
  /**
   * Path of bundle.tgz (from `opa build -t wasm`) or policy.wasm; relative to the working directory.
   * Optional on agents: they fetch the controller's active bundle (agent-side.ts) and use this one until then.
   */
  bundle?: string;
  /** Controller: the opa binary `trellis policy push` compiles and tests with. Default: $TRELLIS_OPA, .opa/bin/opa, opa. */
  opa?: string;
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
  /** Controller side: the policy engine and access decisions (null on the agent and before setup). */
  controllerPolicy(): ControllerPolicy | null;
};

export const configSchema: JsonSchema = {
  type: 'object',
  properties: { bundle: { type: 'string', minLength: 1 }, opa: { type: 'string', minLength: 1 } },
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
  /** Controller side: the policy engine and access decisions (null on the agent). */
  let controller: ControllerPolicy | null = null;
  let agentSide: AgentPosture | null = null;
  const plugin = definePlugin<PostureOpaConfig>({
    manifest: {
      name: PLUGIN_NAME,
      version: '0.1.0',
      apiRange: '^1.0.0',
      configSchema,
      sides: ['agent', 'controller'],
    },
    async setup(ctx) {
      const policyAccess = ctx.side === 'controller' ? ctx.controller?.policy : undefined;
      if (policyAccess) {
        // Controller: versions live in the controller; the configured (or shipped) bundle only seeds the first one.
        const seedPath = ctx.config.bundle !== undefined ? resolve(ctx.config.bundle) : findShippedBundle();
        controller = new ControllerPolicy({ access: policyAccess, log: ctx.log, clock: opts.clock, opaPath: ctx.config.opa });
        policyAccess.registerEngine(controller.engine);
        if (!policyAccess.active()) {
          if (seedPath === null) {
            ctx.log.warn({}, 'no policy stored and no bundle found; maps stay unfiltered until `trellis policy push <dir>`');
          } else {
            const bytes = await readFile(seedPath).catch((err: NodeJS.ErrnoException) => {
              throw policyErrors.bundleInvalid(seedPath, `cannot be read (${err.code ?? err.message})`);
            });
            await controller.validate(bytes, seedPath);
            await policyAccess.seed(bytes, seedPath);
          }
        }
        evaluator = await controller.current();
        ctx.log.info({ policyVersion: evaluator?.version ?? null, seededFrom: seedPath }, 'controller policy ready');
        return;
      }
      if (ctx.config.bundle !== undefined) {
        const path = resolve(ctx.config.bundle);
        evaluator = await PolicyEvaluator.fromFile(path, opts.clock ? { clock: opts.clock } : {});
        ctx.log.info({ bundle: path, policyVersion: evaluator.version, entrypoints: evaluator.entrypoints }, 'policy bundle loaded');
      }
      if (ctx.side === 'agent' && ctx.agent) {
        const side = new AgentPosture({ log: ctx.log, agent: ctx.agent, clock: opts.clock, initial: evaluator });
        agentSide = side;
        ctx.agent.registerStatusText?.(({ posture }) => {
          const text = renderPostureStatus(posture, side.status());
          return text ? { place: 'posture', text } : null;
        });
      }
    },
    async evaluatePosture(facts) {
      // The controller always decides with its active version.
      if (controller) evaluator = await controller.current();
      const ev = agentSide?.evaluator ?? evaluator;
      if (!ev) return null;
      const decision = evaluatePostureWith(ev, facts);
      agentSide?.record(decision);
      return decision;
    },
    onNetworkMap(map) {
      return agentSide?.onNetworkMap(map);
    },
    statusSection() {
      return agentSide?.status() ?? null;
    },
    async decideAccess(request) {
      return controller ? controller.decideAccess(request) : null;
    },
    mapExtension(node) {
      return controller ? controller.mapExtension(node) : null;
    },
    async approveRoute(request) {
      return controller ? controller.approveRoute(request) : null;
    },
    async decideTopology() {
      return controller ? controller.decideTopology() : null;
    },
    shutdown() {
      controller = null;
      agentSide?.stop();
      agentSide = null;
      evaluator = null;
    },
  });
  return Object.assign(plugin, { evaluator: () => evaluator, controllerPolicy: () => controller });
}

/** The default instance, found by the plugin loader. */
export const postureOpaPlugin: PostureOpaPlugin = createPostureOpaPlugin();
