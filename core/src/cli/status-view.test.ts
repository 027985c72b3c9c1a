import type { AgentStatus } from '../wire';
import { FIXED_STATUS, NOW } from './testing/agent-status-fixture';
import { renderAgentStatus } from './status-view';

describe('renderAgentStatus', () => {
  it('renders the node block and a peer table sorted by name', () => {
    expect(renderAgentStatus(FIXED_STATUS, NOW)).toBe(
      [
        'node        n1 (node-1)',
        'interface   trlwg1, port 51820',
        'addresses   100.64.0.1, fd7a:7e11:5000::1',
        'key         kX3mV0qkT4o8cUj0cQ0Vt3F0m7bqgqS6bO1Wk1q9eWc=',
        'map         v7 from controller, applied 12s ago',
        'controller  http://198.18.0.1:8080 (connected)',
        '',
        'PEER  ADDRESS     ENDPOINT           HANDSHAKE  RX / TX              RTT       LOSS  JITTER',
        'n2    100.64.0.2  198.18.0.12:51820  3s ago     1.50 KiB / 2.00 MiB  0.412 ms  5.0%  0.037 ms',
        'n3    100.64.0.3  -                  never      0 B / 148 B          -         -     -',
        '',
      ].join('\n'),
    );
  });

  it('says when the controller is away and the map came from the cache', () => {
    const s: AgentStatus = {
      ...FIXED_STATUS,
      controller: { url: 'http://198.18.0.1:8080', connected: false, lastError: 'ECONNREFUSED' },
      map: { version: 7, epoch: 'e1', source: 'cache', appliedAt: null },
      peers: [],
    };
    const out = renderAgentStatus(s, NOW);
    expect(out).toContain('map         v7 from cache\n');
    expect(out).toContain('controller  http://198.18.0.1:8080 (not connected: ECONNREFUSED)\n');
    expect(out.endsWith('no peers\n')).toBe(true);
  });
});
