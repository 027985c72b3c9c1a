/**
 * @trellis/plugin-posture-opa: Rego policies compiled to WebAssembly, evaluated in-process with
 * opa-wasm. Device posture on the agent and the controller (evaluatePosture), access decisions
 * for the controller's maps as grants (decideAccess), and the opa CLI to compile and test policies.
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
  ControllerPolicy,
  DECISION_ENTRYPOINT,
  evaluateGrants,
  EXTENSION_KEY,
  findShippedBundle,
  GRANTS_ENTRYPOINT,
  isQuarantined,
  NETMAPS_ENTRYPOINT,
  netmapsInput,
  NODE_READS_ENTRYPOINT,
  nodeReadsOf,
  REQUIRED_ENTRYPOINTS,
} from './controller-policy';
export type { AccessDecisionStats, ControllerPolicyOptions, PostureOpaExtension } from './controller-policy';
export { forMember, readGrants } from './access-grants';
export type { EvaluatedGrants } from './access-grants';
export { NODE_READS_CONTRACT, partitionNodes, readNodeReads } from './node-classes';
export type { NodeClass, NodePartition, NodeReads, PolicyNode } from './node-classes';
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
export { renderPostureStatus } from './status-text';
export type { AgentPostureOptions, AgentPostureStatus, PostureExtension } from './agent-side';
export { postureOpaPlugin as default } from './posture-plugin';
