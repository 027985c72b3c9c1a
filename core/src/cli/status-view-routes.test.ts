import type { AgentStatus } from '../wire';
import { FIXED_STATUS } from './testing/agent-status-fixture';
import { renderRouteLines, renderTopologyLine } from './status-view';

const withRoutes = (routes: AgentStatus['routes']): AgentStatus => ({ ...FIXED_STATUS, routes });
const none = { installed: [], advertised: [], forwarding: false, lastError: null };

describe('renderRouteLines: the exit node', () => {
  it('names the exit node in use, the one wanted, its fallback, the excluded networks and the switches', () => {
    const text = renderRouteLines(withRoutes({ ...none, exit: { preferred: 'n3', fallback: 'n4', inUse: 'n4', problem: 'exit node n3 is offline', exclude: ['198.51.100.0/24'], switches: 2 } }));
    expect(text).toBe('exit node   n4 (wanted n3, fallback n4; outside: 198.51.100.0/24; switched 2 times)\n            exit node n3 is offline\n');
  });

  it('says when no exit node is in use, and prints nothing without --exit-node', () => {
    expect(renderRouteLines(withRoutes({ ...none, exit: { preferred: 'n9', fallback: null, inUse: null, problem: 'exit node n9 is not a peer of this node', exclude: [], switches: 0 } }))).toBe(
      'exit node   none in use (wanted n9)\n            exit node n9 is not a peer of this node\n',
    );
    expect(renderRouteLines(withRoutes({ ...none, exit: null }))).toBe('');
  });
});

describe('renderRouteLines and renderTopologyLine: subnets behind a hub', () => {
  it('says which subnets --route-include lets in', () => {
    expect(renderRouteLines(withRoutes({ ...none, include: ['10.20.0.0/16', '10.30.0.0/16'] }))).toBe('accepts     only subnets inside 10.20.0.0/16, 10.30.0.0/16 (--route-include)\n');
  });

  it('names the hub a subnet goes through and the gateway behind it', () => {
    const text = renderRouteLines(withRoutes({ ...none, installed: [{ prefix: '10.20.0.0/24', via: 'n1', gateway: 'n3' }, { prefix: '10.30.0.0/24', via: 'n4' }] }));
    expect(text).toBe('routes      10.20.0.0/24 via n1 (hub) to gateway n3, 10.30.0.0/24 via n4\n');
  });

  it('a hub lists the subnets it forwards to spoke gateways', () => {
    const s: AgentStatus = { ...FIXED_STATUS, topology: { role: 'hub', via: null, transit: [], forwarding: true, forwards: [{ prefix: '10.20.0.0/24', via: 'n3' }] } };
    expect(renderTopologyLine(s)).toBe('topology    hub: forwards between spokes and 10.20.0.0/24 to n3\n');
    expect(renderTopologyLine({ ...s, topology: { role: 'hub', via: null, transit: [], forwarding: false } })).toBe('topology    hub: forwards between spokes (forwarding not on yet)\n');
  });
});
