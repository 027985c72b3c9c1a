import { PanelFactory } from '../panel-factory';
import { DASHBOARD_UIDS, nodeDetailUrl, trellisDashboard, type BuiltDashboard, type DashboardContext } from './dashboard-context';

const MATRIX_COLUMNS = ['src', 'dst', 'path', 'p50_ms', 'p95_ms', 'loss_pct', 'jitter_ms', 'samples'];

/**
 * Latency matrix: source × destination grids of p50/p95 RTT, loss and jitter. Each grid is the
 * matrix query pivoted by Grafana's groupingToMatrix transformation (rows src, columns dst); a cell
 * links to the source node's detail with the destination as peer.
 */
export function latencyMatrix({ sql }: DashboardContext): BuiltDashboard {
  const uid = DASHBOARD_UIDS.latencyMatrix;
  const f = new PanelFactory(uid);
  const cellLink = [{ title: 'Node detail: ${__data.fields.src} -> ${__field.name}', url: nodeDetailUrl('${__data.fields.src}', '${__field.name}') }];
  const grid = (title: string, value: string) =>
    f.table(title, sql.matrix(), MATRIX_COLUMNS, {
      width: 12,
      height: 10,
      links: cellLink,
      transformations: [{ id: 'groupingToMatrix', options: { rowField: 'src', columnField: 'dst', valueField: value, emptyValue: 'null' } }],
    });
  const b = trellisDashboard(uid, 'Trellis / Latency matrix', 'Source × destination p50/p95 RTT, loss and jitter; a cell opens that node.')
    .withVariable(f.variable({ name: 'path', label: 'Path', sql: sql.pathsVariable(), column: 'path', multi: true }))
    .withPanel(grid('p50 RTT (ms), src × dst', 'p50_ms'))
    .withPanel(grid('p95 RTT (ms), src × dst', 'p95_ms'))
    .withPanel(grid('Loss (%), src × dst', 'loss_pct'))
    .withPanel(grid('Jitter (ms), src × dst', 'jitter_ms'))
    .withPanel(f.table('All paths', sql.matrix(), MATRIX_COLUMNS, { width: 24, links: [{ title: 'Node detail: ${__data.fields.src}', url: nodeDetailUrl('${__data.fields.src}', '${__data.fields.dst}') }] }));
  return { uid, file: 'latency-matrix.json', dashboard: b.build(), queries: f.queries };
}
