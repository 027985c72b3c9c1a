import type { PostureDecision } from '@trellis/core/api';
import type { AgentPostureStatus } from './agent-side';
import { renderPostureStatus } from './status-text';

const V = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
const section = (over: Partial<AgentPostureStatus> = {}): AgentPostureStatus => ({
  policyVersion: V,
  wantedVersion: V,
  fetchError: null,
  compliant: false,
  failedChecks: [
    { check: 'kernel_version', reason: 'kernel 5.4.0 is older than the required 5.10' },
    { check: 'forbidden_processes', reason: 'forbidden processes are running: telnetd' },
  ],
  checks: { kernel_version: false, forbidden_processes: false, os_version: true },
  quarantinedByController: null,
  controllerReasons: [],
  ...over,
});
const failing: PostureDecision = { compliant: false, reasons: ['kernel 5.4.0 is older than the required 5.10', 'forbidden processes are running: telnetd'], policyVersion: V };

describe('renderPostureStatus', () => {
  it('lists each failed check with its reason and says the node is quarantined', () => {
    expect(renderPostureStatus(failing, section())).toBe(
      [
        'posture     NOT COMPLIANT (policy a1b2c3d4e5f6)',
        '            ✗ kernel_version: kernel 5.4.0 is older than the required 5.10',
        '            ✗ forbidden_processes: forbidden processes are running: telnetd',
        "            quarantined: the controller's policy drops non-compliant nodes from every peer's map until this is fixed",
        '',
      ].join('\n'),
    );
  });

  it('uses the controller’s word when the map carries it, and names a failed bundle fetch', () => {
    const out = renderPostureStatus(failing, section({ quarantinedByController: true, controllerReasons: ['telnetd'], fetchError: 'GET /v1/policy/bundle answered 503', wantedVersion: 'f'.repeat(64) }));
    expect(out).toContain('QUARANTINED by the controller: telnetd');
    expect(out).toContain('policy ffffffffffff could not be fetched (GET /v1/policy/bundle answered 503); using a1b2c3d4e5f6');
  });

  it('says when posture is not evaluated yet, and is empty with neither a decision nor a policy', () => {
    expect(renderPostureStatus(null, section({ compliant: null, failedChecks: [] }))).toBe('posture     not evaluated yet (policy a1b2c3d4e5f6)\n');
    expect(renderPostureStatus(null, null)).toBe('');
  });
});
