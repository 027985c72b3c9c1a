import { PanelFactory } from '../panel-factory';
import { DASHBOARD_UIDS, trellisDashboard, type BuiltDashboard, type DashboardContext } from './dashboard-context';

/** Audit: the controller's audit log and node lifecycle events. */
export function audit({ sql }: DashboardContext): BuiltDashboard {
  const uid = DASHBOARD_UIDS.audit;
  const f = new PanelFactory(uid);
  const b = trellisDashboard(uid, 'Trellis / Audit', 'Audit events (who did what to which target), node lifecycle events, route decisions and gateway failovers.')
    .withVariable(f.variable({ name: 'action', label: 'Action', sql: sql.actionsVariable(), column: 'action', multi: true }))
    .withPanel(f.timeSeries('Audit events per action', sql.auditRate(), ['time', 'series', 'events'], { width: 24 }))
    .withPanel(f.table('Audit events', sql.auditEvents(), ['time', 'action', 'actor', 'target', 'details'], { width: 24, height: 12 }))
    .withPanel(f.table('Node events', sql.nodeEvents(), ['time', 'node', 'kind', 'details'], { width: 24, height: 10 }))
    .withPanel(f.timeSeries('Route gateway failovers', sql.routeFailovers(), ['time', 'failovers'], { width: 8 }))
    .withPanel(f.table('Routes: advertised, approved, rejected, failovers', sql.routeEvents(), ['time', 'action', 'actor', 'target', 'details'], { width: 16, height: 8 }));
  return { uid, file: 'audit.json', dashboard: b.build(), queries: f.queries };
}
