import type { AgentStatus } from '../wire';
import { FIXED_STATUS, NOW } from './testing/agent-status-fixture';
import { renderAgentStatus, renderPostureSection } from './status-view';

const V = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
const section = (over: Record<string, unknown> = {}) => ({
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

describe('renderPostureSection', () => {
  const failing: AgentStatus = {
    ...FIXED_STATUS,
    posture: { compliant: false, reasons: ['kernel 5.4.0 is older than the required 5.10', 'forbidden processes are running: telnetd'], policyVersion: V },
    extensions: { 'posture-opa': section() },
  };

  it('lists each failed check with its reason and says the node is quarantined', () => {
    expect(renderPostureSection(failing)).toBe(
      [
        'posture     NOT COMPLIANT (policy a1b2c3d4e5f6)',
        '            ✗ kernel_version: kernel 5.4.0 is older than the required 5.10',
        '            ✗ forbidden_processes: forbidden processes are running: telnetd',
        "            quarantined: the controller's policy drops non-compliant nodes from every peer's map until this is fixed",
        '',
      ].join('\n'),
    );
    expect(renderAgentStatus(failing, NOW)).toContain('✗ forbidden_processes: forbidden processes are running: telnetd\n');
  });

  it('uses the controller’s word when the map carries it, and names a failed bundle fetch', () => {
    const s = { ...failing, extensions: { 'posture-opa': section({ quarantinedByController: true, controllerReasons: ['telnetd'], fetchError: 'GET /v1/policy/bundle answered 503', wantedVersion: 'f'.repeat(64) }) } };
    const out = renderPostureSection(s);
    expect(out).toContain('QUARANTINED by the controller: telnetd');
    expect(out).toContain('policy ffffffffffff could not be fetched (GET /v1/policy/bundle answered 503); using a1b2c3d4e5f6');
  });

  it('says compliant in one line, and falls back to the bare reasons without the plugin section', () => {
    expect(renderPostureSection({ ...FIXED_STATUS, posture: { compliant: true, reasons: [], policyVersion: V } })).toBe('posture     compliant (policy a1b2c3d4e5f6)\n');
    expect(renderPostureSection({ ...FIXED_STATUS, posture: { compliant: false, reasons: ['r1'] } })).toBe('posture     NOT COMPLIANT\n            ✗ r1\n');
    expect(renderPostureSection({ ...FIXED_STATUS, posture: null })).toBe('');
  });
});
