import { PanelFactory } from '../panel-factory';
import { DASHBOARD_UIDS, trellisDashboard, type BuiltDashboard, type DashboardContext } from './dashboard-context';

/** Audit: the controller's audit log and node lifecycle events. */
export function audit({ sql, thresholds }: DashboardContext): BuiltDashboard {
  const uid = DASHBOARD_UIDS.audit;
  const f = new PanelFactory(uid);
  const b = trellisDashboard(uid, 'Trellis / Audit', 'Audit events (who did what to which target), threats (failed authentications per source, nodes contacting unusually many peers), connection events, node lifecycle events, route decisions and gateway failovers.')
    .withVariable(f.variable({ name: 'action', label: 'Action', sql: sql.actionsVariable(), column: 'action', multi: true }))
    .withPanel(f.timeSeries('Failed authentications per source', sql.authFailuresBySource(), ['time', 'series', 'failures'], { width: 12 }))
    .withPanel(f.table('Top failing sources', sql.topFailingSources(), ['remote', 'failures', 'rate_limited', 'first_seen', 'last_seen'], { width: 12 }))
    .withPanel(f.table('Peers contacted per node: now vs usual', sql.peersContacted(thresholds), ['node', 'peers_now', 'peers_usual', 'extra'], { width: 12 }))
    .withPanel(f.timeSeries('Connection events per kind', sql.connectionEvents(), ['time', 'series', 'events'], { width: 12 }))
    .withPanel(f.timeSeries('Audit events per action', sql.auditRate(), ['time', 'series', 'events'], { width: 24 }))
    .withPanel(f.table('Audit events', sql.auditEvents(), ['time', 'action', 'actor', 'target', 'details'], { width: 24, height: 12 }))
    .withPanel(f.table('Node events', sql.nodeEvents(), ['time', 'node', 'kind', 'details'], { width: 24, height: 10 }))
    .withPanel(f.timeSeries('Route gateway failovers', sql.routeFailovers(), ['time', 'failovers'], { width: 8 }))
    .withPanel(f.table('Routes: advertised, approved, rejected, failovers, exit node switches', sql.routeEvents(), ['time', 'action', 'actor', 'target', 'details'], { width: 16, height: 8 }));
  return { uid, file: 'audit.json', dashboard: b.build(), queries: f.queries };
}
