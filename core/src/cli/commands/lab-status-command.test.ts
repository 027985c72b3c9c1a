import { FIXED_STATUS } from '../testing/agent-status-fixture';
import { renderLabStatus } from './lab-status-command';

describe('renderLabStatus', () => {
  it('summarises the controller and each node, including one that is down', () => {
    const out = renderLabStatus({
      controller: { url: 'http://198.18.0.1:4000', pid: 10, running: true, healthy: true },
      nodes: [
        { name: 'n1', pid: 11, running: true, status: FIXED_STATUS, error: null },
        { name: 'n2', pid: 12, running: false, status: null, error: 'agent socket /x is unreachable (ENOENT)' },
      ],
    });
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toBe('controller  http://198.18.0.1:4000  healthy (pid 10)');
    expect(lines[2]).toMatch(/^NODE\s+AGENT\s+OVERLAY\s+MAP\s+TUNNELS\s+MEAN RTT\s+CONTROLLER$/);
    // One of two peers has a handshake; only n2 has an RTT (0.412 ms).
    expect(lines[3]).toMatch(/^n1\s+up \(11\)\s+100\.64\.0\.1\s+v7 controller\s+1\/2\s+0\.412 ms\s+connected$/);
    expect(lines[4]).toMatch(/^n2\s+stopped\s+-\s+-\s+-\s+-\s+agent socket \/x is unreachable \(ENOENT\)$/);
  });
});
