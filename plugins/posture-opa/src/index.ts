/**
 * @trellis/plugin-posture-opa: Rego policies compiled to WebAssembly, evaluated in-process with
 * opa-wasm. Device posture on the agent (evaluatePosture), access decisions and per-node peer
 * visibility / packet filters for the controller (PolicyEvaluator), and the opa CLI to compile
 * and test policies.
 */
export { PolicyErrorCode, policyErrors } from './errors';
export { readTar } from './tar-reader';
export type { TarEntry } from './tar-reader';
export { loadPolicyBundle, parsePolicyBundle, policyVersion } from './policy-bundle';
export type { PolicyBundle } from './policy-bundle';
export { OpaHostBuiltins, parseSemver, semverCompare } from './opa-builtins';
export type { BuiltinImpl, WallClock } from './opa-builtins';
export { PolicyEvaluator } from './wasm-evaluator';
export type { PolicyEvaluatorOptions } from './wasm-evaluator';
export { compilePolicies, OPTIONAL_POLICY_ENTRYPOINTS, POLICY_ENTRYPOINTS, resolveOpaBinary, testPolicies } from './opa-cli';
export type { CompiledPolicies, OpaCliOptions } from './opa-cli';
export {
  CLASS_CONTRACT,
  CLASS_CONTRACT_ENTRYPOINT,
  ControllerPolicy,
  DECISION_ENTRYPOINT,
  EXTENSION_KEY,
  findShippedBundle,
  isQuarantined,
  NETMAPS_ENTRYPOINT,
  netmapsInput,
  REQUIRED_ENTRYPOINTS,
} from './controller-policy';
export type { ControllerPolicyOptions, NetmapsStats, RegoNetmap } from './controller-policy';
export { compareFilters, expandClasses, materialize, partitionNodes, repInput } from './netmap-classes';
export type { NetmapNode, NodeClass, NodePartition } from './netmap-classes';
export { directView, emptyView } from './netmap-view';
export type { NetmapsView, NodeNetmap } from './netmap-view';
export {
  configSchema,
  createPostureOpaPlugin,
  evaluatePostureWith,
  PLUGIN_NAME,
  POSTURE_ENTRYPOINT,
  postureOpaPlugin,
} from './posture-plugin';
export type { PostureOpaConfig, PostureOpaPlugin, PostureOpaPluginOptions, RegoPostureDecision } from './posture-plugin';
export { AgentPosture, POLICY_BUNDLE_PATH, POSTURE_EXTENSION } from './agent-side';
export type { AgentPostureOptions, AgentPostureStatus, PostureExtension } from './agent-side';
export { postureOpaPlugin as default } from './posture-plugin';
