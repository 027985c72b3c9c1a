import type { RouteView } from '../../wire';
import { exitOffers, exitUseOf } from './console-snapshot';

const route = (node: string, prefix: string, status: RouteView['status'], usedBy: string[] = [], advertised = true): RouteView => ({
  node,
  nodeId: `id-${node}`,
  prefix,
  kind: prefix.endsWith('/0') ? 'exit' : 'subnet',
  priority: 100,
  check: null,
  advertised,
  status,
  decidedBy: null,
  decidedAt: null,
  online: true,
  checkOk: null,
  healthy: true,
  primary: status === 'approved',
  ...(prefix.endsWith('/0') ? { usedBy } : {}),
});

describe('the console\'s exit node view', () => {
  it('sums each node\'s exit routes up: approved once both are, rejected when either is, else pending; with who uses it', () => {
    const offers = exitOffers([
      route('n3', '0.0.0.0/0', 'approved', ['n1']),
      route('n3', '::/0', 'approved', ['n1']),
      route('n4', '0.0.0.0/0', 'approved'),
      route('n4', '::/0', 'pending'),
      route('n5', '0.0.0.0/0', 'rejected'),
      route('n5', '::/0', 'approved'),
      route('n6', '0.0.0.0/0', 'approved', [], false),
      route('n2', '10.20.0.0/24', 'approved'),
    ]);
    expect(Object.fromEntries(offers)).toEqual({
      'id-n3': { status: 'approved', usedBy: ['n1'] },
      'id-n4': { status: 'pending', usedBy: [] },
      'id-n5': { status: 'rejected', usedBy: [] },
    });
  });

  it('says whether a client\'s traffic leaves through the chosen exit node, its fallback or neither', () => {
    const base = { preferred: 'n3', fallback: 'n4', problem: null, switches: 0, reportedAt: 1 };
    expect(exitUseOf(null)).toBeNull();
    expect(exitUseOf({ ...base, inUse: 'n3' })).toEqual({ preferred: 'n3', fallback: 'n4', inUse: 'n3', state: 'in-use', problem: null, switches: 0 });
    expect(exitUseOf({ ...base, inUse: 'n4', problem: 'exit node n3 is offline', switches: 1 })?.state).toBe('fallback');
    expect(exitUseOf({ ...base, inUse: null, problem: 'exit node n3 is offline' })?.state).toBe('none');
  });
});
