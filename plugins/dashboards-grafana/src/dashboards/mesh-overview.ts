import { PanelFactory } from '../panel-factory';
import { DASHBOARD_UIDS, nodeDetailUrl, trellisDashboard, type BuiltDashboard, type DashboardContext } from './dashboard-context';

/** Mesh overview: is the mesh up, and which paths are worst right now. */
export function meshOverview({ sql, thresholds: t }: DashboardContext): BuiltDashboard {
  const uid = DASHBOARD_UIDS.meshOverview;
  const f = new PanelFactory(uid);
  const b = trellisDashboard(uid, 'Trellis / Mesh overview', 'Nodes online, tunnels up, the worst paths by p95 RTT, loss and jitter, which pairs use a relay, and path switches.')
    .withVariable(f.variable({ name: 'node', label: 'Source node', sql: sql.nodesVariable(), column: 'name', multi: true }))
    .withPanel(f.stat('Nodes online', sql.nodesOnline(), ['nodes_online', 'nodes_offline'], { width: 8 }))
    .withPanel(f.stat('Tunnels up', sql.tunnelsUp(t), ['tunnels_up', 'tunnels_total'], { width: 8 }))
    .withPanel(
      f.table('Worst paths by p95 RTT', sql.worstPaths(), ['src', 'dst', 'path', 'p50_ms', 'p95_ms', 'loss_pct', 'jitter_ms', 'samples'], {
        width: 24,
        links: [{ title: 'Node detail: ${__data.fields.src} -> ${__data.fields.dst}', url: nodeDetailUrl('${__data.fields.src}', '${__data.fields.dst}') }],
      }),
    )
    .withPanel(f.timeSeries('p95 RTT, 10 worst paths', sql.meshSeries('p95_ms'), ['time', 'series', 'p95_ms'], { unit: 'ms', width: 8, threshold: t.rttP95DefaultMs, minIntervalMinutes: 10 }))
    .withPanel(f.timeSeries('Loss, 10 worst paths', sql.meshSeries('loss_pct'), ['time', 'series', 'loss_pct'], { unit: 'percent', width: 8, threshold: t.lossMaxPercent, minIntervalMinutes: 10 }))
    .withPanel(f.timeSeries('Jitter, 10 worst paths', sql.meshSeries('jitter_ms'), ['time', 'series', 'jitter_ms'], { unit: 'ms', width: 8, threshold: t.jitterMaxMs, minIntervalMinutes: 10 }))
    .withPanel(
      f.table('Paths and relays', sql.pathsInUse(), ['src', 'dst', 'path', 'minutes', 'last_seen', 'p50_ms'], {
        width: 24,
        links: [{ title: 'Node detail: ${__data.fields.src} -> ${__data.fields.dst}', url: nodeDetailUrl('${__data.fields.src}', '${__data.fields.dst}') }],
      }),
    )
    .withPanel(
      f.table('Path and relay switches (agents\' connection events)', sql.pathSwitches(), ['time', 'node', 'peer', 'event', 'from_path', 'to_path'], {
        width: 24,
        links: [{ title: 'Node detail: ${__data.fields.node} -> ${__data.fields.peer}', url: nodeDetailUrl('${__data.fields.node}', '${__data.fields.peer}') }],
      }),
    );
  return { uid, file: 'mesh-overview.json', dashboard: b.build(), queries: f.queries };
}
