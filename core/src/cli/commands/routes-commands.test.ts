import type { RouteView } from '../../wire';
import { renderRouteTable } from './routes-commands';

const view = (over: Partial<RouteView>): RouteView => ({
  node: 'n3',
  nodeId: 'id-n3',
  prefix: '0.0.0.0/0',
  kind: 'exit',
  priority: 100,
  check: null,
  advertised: true,
  status: 'approved',
  decidedBy: 'admin',
  decidedAt: 1,
  online: true,
  checkOk: null,
  healthy: true,
  primary: true,
  ...over,
});

describe('renderRouteTable', () => {
  it('names the nodes whose traffic leaves through an exit node, and says offered when none does', () => {
    const text = renderRouteTable([
      view({ usedBy: ['n1', 'n2'] }),
      view({ node: 'n4', nodeId: 'id-n4', usedBy: [] }),
      view({ node: 'n5', nodeId: 'id-n5', status: 'pending', primary: false, usedBy: [] }),
      view({ node: 'n2', nodeId: 'id-n2', prefix: '10.20.0.0/24', kind: 'subnet', check: '10.20.0.10', checkOk: true, priority: 200 }),
    ]);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^PREFIX\s+KIND\s+GATEWAY\s+STATUS\s+PRIORITY\s+CHECK\s+HEALTH\s+IN USE$/);
    expect(lines.find((l) => /\bn3\b/.test(l))).toMatch(/used by n1, n2$/);
    expect(lines.find((l) => /\bn4\b/.test(l))).toMatch(/offered$/);
    expect(lines.find((l) => /\bn5\b/.test(l))).toMatch(/pending.*-$/);
    expect(lines.find((l) => /10\.20\.0\.0\/24/.test(l))).toMatch(/primary$/);
  });
});
