import { TrellisError } from '../errors';
import { labHubSelected, planTopology } from './lab-topology';

const refused = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TrellisError);
    expect((err as TrellisError).code).toBe('TRELLIS_ERR_LAB');
    return (err as Error).message;
  }
  throw new Error('not refused');
};

describe('planTopology', () => {
  it('plans NAT, relays and links per node', () => {
    expect(planTopology(4, { nat: { n1: 'easy', n2: 'hard' }, relays: ['n3'], uplinks: { n4: 2 } })).toEqual([
      { name: 'n1', index: 1, nat: 'easy', relay: false, links: 1 },
      { name: 'n2', index: 2, nat: 'hard', relay: false, links: 1 },
      { name: 'n3', index: 3, nat: null, relay: true, links: 1 },
      { name: 'n4', index: 4, nat: null, relay: false, links: 2 },
    ]);
    expect(planTopology(2, {})).toEqual([
      { name: 'n1', index: 1, nat: null, relay: false, links: 1 },
      { name: 'n2', index: 2, nat: null, relay: false, links: 1 },
    ]);
  });

  it('refuses names that are not nodes of the lab, naming the flag and the nodes', () => {
    expect(refused(() => planTopology(3, { relays: ['n7'] }))).toBe('lab: --relays names "n7", which is not a node of this lab (nodes: n1, n2, n3); nothing was started');
    expect(refused(() => planTopology(3, { nat: { r1: 'easy' } }))).toContain('--nat names "r1"');
    expect(refused(() => planTopology(10, { uplinks: { n11: 2 } }))).toContain('(nodes: n1..n10)');
  });

  it('refuses bad values, a relay listed twice and NAT with several links', () => {
    expect(refused(() => planTopology(3, { nat: { n1: 'medium' } }))).toBe('lab: --nat n1=medium: the NAT type is easy or hard; nothing was started');
    expect(refused(() => planTopology(3, { relays: ['n3', 'n3'] }))).toBe('lab: --relays lists "n3" twice; flag each relay once; nothing was started');
    expect(refused(() => planTopology(3, { uplinks: { n1: 5 } }))).toContain('1 to 4 underlay links');
    expect(refused(() => planTopology(3, { uplinks: { n1: 1.5 } }))).toContain('1 to 4 underlay links');
    expect(refused(() => planTopology(3, { nat: { n1: 'easy' }, uplinks: { n1: 2 } }))).toContain('both --nat and --uplinks');
  });

  it('knows which lab nodes a hubs selector names (their relays carry end-to-end hub traffic)', () => {
    expect(labHubSelected(['node:n1', 'node:n2'], 'n2')).toBe(true);
    expect(labHubSelected(['node:n1'], 'n10')).toBe(false);
    expect(labHubSelected(['*'], 'n3')).toBe(true);
    expect(labHubSelected(['tag:hub'], 'n1')).toBe(false);
  });
});
