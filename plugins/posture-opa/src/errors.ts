/** The posture-opa error catalogue: one factory per code; each message says what to do. */
import { TrellisError } from '@trellis/core/api';

export const PolicyErrorCode = {
  BUNDLE_INVALID: 'TRELLIS_ERR_POLICY_BUNDLE_INVALID',
  COMPILE_FAILED: 'TRELLIS_ERR_POLICY_COMPILE_FAILED',
  TESTS_FAILED: 'TRELLIS_ERR_POLICY_TESTS_FAILED',
  OPA_MISSING: 'TRELLIS_ERR_POLICY_OPA_MISSING',
  ENTRYPOINT_UNKNOWN: 'TRELLIS_ERR_POLICY_ENTRYPOINT_UNKNOWN',
  EVAL_FAILED: 'TRELLIS_ERR_POLICY_EVAL_FAILED',
  DATA_INVALID: 'TRELLIS_ERR_POLICY_DATA_INVALID',
} as const;
export type PolicyErrorCode = (typeof PolicyErrorCode)[keyof typeof PolicyErrorCode];

const e = (code: PolicyErrorCode, message: string, details?: Record<string, unknown>) => new TrellisError(code, message, details);

export const policyErrors = {
  bundleInvalid: (source: string, what: string) =>
    e(PolicyErrorCode.BUNDLE_INVALID, `policy bundle ${source}: ${what}; rebuild it with \`npx nx run policies:build\``, { source }),
  compileFailed: (dir: string, output: string) =>
    e(PolicyErrorCode.COMPILE_FAILED, `opa build refused the policies in ${dir}:\n${output.trim()}`, { dir }),
  testsFailed: (dir: string, output: string) =>
    e(PolicyErrorCode.TESTS_FAILED, `opa test failed for the policies in ${dir}:\n${output.trim()}`, { dir }),
  opaMissing: (path: string, why: string) =>
    e(PolicyErrorCode.OPA_MISSING, `the opa CLI at ${path} cannot run (${why}); build it with \`bash scripts/install-opa.sh\` or set TRELLIS_OPA`, { path }),
  entrypointUnknown: (entrypoint: string, known: string[]) =>
    e(PolicyErrorCode.ENTRYPOINT_UNKNOWN, `policy has no entrypoint "${entrypoint}"; it has: ${known.join(', ') || 'none'}`, { entrypoint }),
  evalFailed: (entrypoint: string, why: string) =>
    e(PolicyErrorCode.EVAL_FAILED, `evaluating ${entrypoint} failed: ${why}`, { entrypoint }),
  dataInvalid: (what: string) =>
    e(PolicyErrorCode.DATA_INVALID, `policy data rejected: ${what}; the previous data stays in force`),
};
