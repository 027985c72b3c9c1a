import type { TopologyView } from '../../wire';
import { UsageError } from '../usage-error';
import { labMeshTopology } from './lab-up-command';
import { renderTopology, topologyFromFlags } from './topology-commands';

describe('topology flags', () => {
  it('reads --hub-forwarding beside --mode and --hubs; the controller checks the value', () => {
    expect(topologyFromFlags({ mode: 'hub-and-spoke', hubs: 'node:h1', 'hub-forwarding': 'end-to-end' }, 'topology set')).toEqual({ mode: 'hub-and-spoke', hubs: ['node:h1'], hubForwarding: 'end-to-end' });
    expect(topologyFromFlags({ mode: 'hub-and-spoke', hubs: 'node:h1' }, 'topology set')).toEqual({ mode: 'hub-and-spoke', hubs: ['node:h1'] });
    expect(() => topologyFromFlags({ mode: 'hub-and-spoke', hubs: 'node:h1', 'hub-forwarding': '' }, 'topology set')).toThrow(UsageError);
  });

  it('lab up: --hub-forwarding needs --topology, and a bad value is refused before anything starts', () => {
    expect(labMeshTopology({ topology: 'hub-and-spoke', hubs: 'n1,n2', 'hub-forwarding': 'end-to-end' }, 'lab up')).toEqual({
      topology: { mode: 'hub-and-spoke', hubs: ['node:n1', 'node:n2'], direct: [], hubForwarding: 'end-to-end' },
    });
    expect(() => labMeshTopology({ 'hub-forwarding': 'end-to-end' }, 'lab up')).toThrow('--hubs, --direct and --hub-forwarding need --topology <mode>');
    expect(() => labMeshTopology({ topology: 'hub-and-spoke', hubs: 'n1', 'hub-forwarding': 'onion' }, 'lab up')).toThrow('topology.hubForwarding "onion" is not one of hop-by-hop, end-to-end');
  });

  it('trellis topology says hubs forward end to end and names a hub without a relay', () => {
    const view: TopologyView = {
      mode: 'hub-and-spoke',
      config: { mode: 'hub-and-spoke', hubs: ['node:n1', 'node:n2'], direct: [], hubForwarding: 'end-to-end' },
      source: 'config',
      policyVersion: null,
      configured: { mode: 'hub-and-spoke', hubs: ['node:n1', 'node:n2'], direct: [], hubForwarding: 'end-to-end' },
      describe: 'hub-and-spoke; hubs node:n1, node:n2; hubs forward end to end',
      activeHub: 'n1',
      hubs: [{ name: 'n1', id: 'a', online: true, relay: true }, { name: 'n2', id: 'b', online: true, relay: false }],
      nodes: [],
    };
    expect(renderTopology(view)).toContain("forwarding  end to end: spokes add each other on demand through a hub's relay; n2 runs no relay (start with `trellis up --relay`)\n");
    expect(renderTopology({ ...view, config: { mode: 'hub-and-spoke', hubs: ['node:n1'] } })).not.toContain('forwarding');
  });
});
