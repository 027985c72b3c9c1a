/**
 * posture-opa's part of `trellis status`: the agent's posture decision with each failed check by
 * name, the policy version that decided, whether the controller quarantined the node, and a
 * bundle that could not be fetched. It stands in for core's plain posture lines.
 */
import type { PostureDecision } from '@trellis/core/api';
import type { AgentPostureStatus } from './agent-side';

/** renderPostureStatus is the posture lines of `trellis status`; empty before a decision or a policy. */
export function renderPostureStatus(posture: PostureDecision | null, pv: AgentPostureStatus | null): string {
  if (!posture && !pv) return '';
  const pad = '            ';
  let out = '';
  const version = posture?.policyVersion ?? pv?.policyVersion ?? null;
  const policy = version ? ` (policy ${version.slice(0, 12)})` : '';
  if (!posture) out += `posture     not evaluated yet${policy}\n`;
  else if (posture.compliant) out += `posture     compliant${policy}\n`;
  else {
    out += `posture     NOT COMPLIANT${policy}\n`;
    const failed = pv && pv.failedChecks.length > 0 ? pv.failedChecks : posture.reasons.map((reason) => ({ check: '', reason }));
    for (const f of failed) out += `${pad}✗ ${f.check ? `${f.check}: ` : ''}${f.reason}\n`;
  }
  if (pv?.quarantinedByController === true) {
    const why = pv.controllerReasons.length > 0 ? `: ${pv.controllerReasons.join('; ')}` : '';
    out += `${pad}QUARANTINED by the controller${why}; peers do not reach this node until it is compliant\n`;
  } else if (pv?.quarantinedByController === null && pv.wantedVersion !== null && posture && !posture.compliant) {
    // The controller decides with the same policy version it serves us, so it quarantines us too.
    out += `${pad}quarantined: the controller's policy drops non-compliant nodes from every peer's map until this is fixed\n`;
  }
  if (pv?.fetchError) {
    out += `${pad}policy ${pv.wantedVersion?.slice(0, 12) ?? '?'} could not be fetched (${pv.fetchError}); using ${pv.policyVersion?.slice(0, 12) ?? 'none'}\n`;
  }
  return out;
}
