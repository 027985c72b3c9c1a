import type { AgentStatus } from '../wire';
import { FIXED_STATUS, NOW } from './testing/agent-status-fixture';
import { renderAgentStatus } from './status-view';

/** The text a plugin registered for the end of `trellis status` (shaping-tc's words, plugins/shaping-tc status-text.ts). */
const out = [
  '',
  'shaping     profile uplink on trlwg1, ingress via ifb-trlwg1',
  'DIR      CLASS     RATE    CEIL    PRIO  SENT      PKTS  DROPS  OVERLIMITS  BACKLOG',
  'egress   link      42Mbit  42Mbit  -     3.00 MiB  2247  0      7           2.77 KiB / 2p',
  '',
].join('\n');

const shaped: AgentStatus = { ...FIXED_STATUS, extensions: { 'shaping-tc': { profile: 'uplink' } }, statusText: [{ place: 'end', text: out }] };

describe('plugin status text in renderAgentStatus', () => {
  it('prints a plugin\'s end text after the peer table, or after "no peers"', () => {
    expect(renderAgentStatus(shaped, NOW).endsWith(out)).toBe(true);
    expect(renderAgentStatus({ ...shaped, peers: [] }, NOW).endsWith('no peers\n' + out)).toBe(true);
  });

  it('prints nothing of a plugin that registered no text, whatever its status section holds', () => {
    expect(renderAgentStatus({ ...FIXED_STATUS, extensions: { 'shaping-tc': { unexpected: true } } }, NOW)).toBe(renderAgentStatus(FIXED_STATUS, NOW));
    expect(renderAgentStatus(FIXED_STATUS, NOW)).not.toContain('shaping');
  });

  it('keeps the texts of several plugins in their registration order', () => {
    const two: AgentStatus = { ...FIXED_STATUS, statusText: [{ place: 'end', text: 'first\n' }, { place: 'end', text: 'second\n' }] };
    expect(renderAgentStatus(two, NOW).endsWith('first\nsecond\n')).toBe(true);
  });
});
