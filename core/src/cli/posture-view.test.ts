import type { AgentStatus } from '../wire';
import { FIXED_STATUS, NOW } from './testing/agent-status-fixture';
import { renderAgentStatus, renderPostureSection } from './status-view';

const V = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
/** The posture text a plugin registered (posture-opa's words, plugins/posture-opa status-text.ts). */
const pluginText = [
  'posture     NOT COMPLIANT (policy a1b2c3d4e5f6)',
  '            ✗ kernel_version: kernel 5.4.0 is older than the required 5.10',
  '            ✗ forbidden_processes: forbidden processes are running: telnetd',
  "            quarantined: the controller's policy drops non-compliant nodes from every peer's map until this is fixed",
  '',
].join('\n');

describe('renderPostureSection', () => {
  const failing: AgentStatus = {
    ...FIXED_STATUS,
    posture: { compliant: false, reasons: ['kernel 5.4.0 is older than the required 5.10', 'forbidden processes are running: telnetd'], policyVersion: V },
    statusText: [{ place: 'posture', text: pluginText }],
  };

  it('shows the posture text a plugin registered in place of its own lines', () => {
    expect(renderPostureSection(failing)).toBe(pluginText);
    expect(renderAgentStatus(failing, NOW)).toContain('✗ forbidden_processes: forbidden processes are running: telnetd\n');
    expect(renderAgentStatus(failing, NOW)).not.toContain('✗ forbidden processes are running: telnetd');
  });

  it('says compliant in one line, and falls back to the bare reasons without the plugin section', () => {
    expect(renderPostureSection({ ...FIXED_STATUS, posture: { compliant: true, reasons: [], policyVersion: V } })).toBe('posture     compliant (policy a1b2c3d4e5f6)\n');
    expect(renderPostureSection({ ...FIXED_STATUS, posture: { compliant: false, reasons: ['r1'] } })).toBe('posture     NOT COMPLIANT\n            ✗ r1\n');
    expect(renderPostureSection({ ...FIXED_STATUS, posture: null })).toBe('');
  });
});
