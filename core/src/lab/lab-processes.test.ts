import { advertisedEndpoints, agentStunArgs } from './lab-processes';
import { linksOf, routerState } from './lab-routed-network';

describe('advertisedEndpoints', () => {
  test('a node on the bridge advertises its underlay address with the WireGuard port', () => {
    expect(advertisedEndpoints({ underlay: '198.18.0.13', nat: null })).toEqual(['198.18.0.13:51820']);
  });

  test('a node with two links advertises both', () => {
    expect(advertisedEndpoints({ underlay: '198.18.0.14', nat: null, links: linksOf(4, 'trlv4', 2) })).toEqual(['198.18.0.14:51820', '198.19.0.14:51820']);
  });

  test('behind an easy NAT: the router\'s public address, whose mapping keeps the port', () => {
    expect(advertisedEndpoints({ underlay: '198.18.0.11', nat: routerState('trl-n1', 1, 'trlv1', 'easy') })).toEqual(['198.18.0.11:51820']);
  });

  test('behind a hard NAT: nothing fixed (the port differs per destination); the agent finds its own', () => {
    expect(advertisedEndpoints({ underlay: '198.18.0.12', nat: routerState('trl-n2', 2, 'trlv2', 'hard') })).toEqual([]);
  });
});

describe('agentStunArgs', () => {
  const stun = ['198.18.0.1:3478', '198.18.0.2:3478'];
  test("agents ask both of the lab controller's STUN addresses, so each can classify its own NAT", () => {
    expect(agentStunArgs({ stun }, {}, 'https://198.18.0.1:4000')).toEqual(['--stun', '198.18.0.1:3478', '--stun', '198.18.0.2:3478']);
  });

  test("a node's own --stun, a lab without STUN or with one address, or a controller elsewhere keep the agent's choice", () => {
    expect(agentStunArgs({ stun }, { agentArgs: ['--stun', '198.18.0.1:3479'] }, 'https://198.18.0.1:4000')).toEqual([]);
    expect(agentStunArgs({}, {}, 'https://198.18.0.1:4000')).toEqual([]);
    expect(agentStunArgs({ stun: ['198.18.0.1:3478'] }, {}, 'https://198.18.0.1:4000')).toEqual([]);
    expect(agentStunArgs({ stun }, {}, 'https://198.18.10.1:4000')).toEqual([]);
  });
});
