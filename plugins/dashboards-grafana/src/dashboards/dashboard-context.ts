/**
 * The inputs every dashboard builder takes, what it returns, and the stable uids and URLs
 * dashboards use to link to each other.
 */
import { DashboardBuilder, DashboardCursorSync, DashboardLinkBuilder, DashboardLinkType, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import type { PanelQuery, PromPanelQuery } from '../panel-factory';
import type { TelemetrySql } from '../telemetry-sql';
import type { AlertThresholds } from '../thresholds';

export interface DashboardContext {
  sql: TelemetrySql;
  thresholds: AlertThresholds;
}

export interface BuiltDashboard {
  uid: string;
  /** File name under dashboards/json/. */
  file: string;
  dashboard: Dashboard;
  queries: PanelQuery[];
  /** PromQL queries of panels on the Prometheus datasource, if any. */
  promQueries?: PromPanelQuery[];
}

export const DASHBOARD_UIDS = {
  meshOverview: 'trellis-mesh-overview',
  latencyMatrix: 'trellis-latency-matrix',
  nodeDetail: 'trellis-node-detail',
  traffic: 'trellis-traffic-shaping',
  posture: 'trellis-posture-access',
  audit: 'trellis-audit',
  controllerDevices: 'trellis-controller-devices',
} as const;

/** nodeDetailUrl links a cell or row to the node detail of `node`, keeping the time range. */
export function nodeDetailUrl(node: string, peer = '$__all'): string {
  return `/d/${DASHBOARD_UIDS.nodeDetail}/node-detail?var-node=${node}&var-peer=${peer}&\${__url_time_range}`;
}

/** trellisDashboard starts a dashboard with the common settings and a dropdown of the others. */
export function trellisDashboard(uid: string, title: string, description: string): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['trellis', 'generated'])
    .editable()
    .timezone('browser')
    .time({ from: 'now-6h', to: 'now' })
    .refresh('1m')
    .tooltip(DashboardCursorSync.Crosshair)
    .link(new DashboardLinkBuilder('Trellis').type(DashboardLinkType.Dashboards).tags(['trellis']).asDropdown(true).includeVars(false).keepTime(true));
}
