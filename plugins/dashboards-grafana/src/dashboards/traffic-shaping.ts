import { DashboardLinkBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelFactory } from '../panel-factory';
import { DASHBOARD_UIDS, trellisDashboard, type BuiltDashboard, type DashboardContext } from './dashboard-context';

/** Traffic and shaping: throughput per peer and per shaping class, drops and backlog. */
export function trafficShaping({ sql, thresholds: t }: DashboardContext): BuiltDashboard {
  const uid = DASHBOARD_UIDS.traffic;
  const f = new PanelFactory(uid);
  const b = trellisDashboard(uid, 'Trellis / Traffic and shaping', 'Tunnel throughput per peer, shaping class throughput, drops and backlog.')
    .withVariable(f.variable({ name: 'node', label: 'Node', sql: sql.nodesVariable(), column: 'name', multi: false }))
    .withVariable(f.variable({ name: 'peer', label: 'Peer', sql: sql.peersVariable(), column: 'name', multi: true }))
    .withVariable(f.variable({ name: 'class', label: 'Shaping class', sql: sql.classesVariable(), column: 'class_id', multi: true }))
    .withPanel(f.timeSeries('Throughput per peer', sql.peerThroughput(), ['time', 'series', 'rx_bps', 'tx_bps'], { unit: 'bps', width: 24 }))
    .withPanel(f.timeSeries('Throughput per class', sql.classThroughput(), ['time', 'series', 'bps'], { unit: 'bps' }))
    .withPanel(f.timeSeries('Drops per class', sql.classDrops(), ['time', 'series', 'drops_per_s'], { unit: 'pps', threshold: t.shapingDropsPerSecond }))
    .withPanel(f.timeSeries('Backlog per class', sql.classBacklog(), ['time', 'series', 'backlog'], { unit: 'bytes' }))
    .withPanel(f.table('Most drops in range (all nodes)', sql.dropsTable(), ['node', 'iface', 'class_id', 'drops', 'overlimits'], { width: 12 }))
    .withPanel(f.timeSeries('Relayed packets per relay', sql.relayForwarded(), ['time', 'series', 'pps'], { unit: 'pps', width: 12 }))
    .withPanel(f.timeSeries('Relay drops per second', sql.relayDrops(), ['time', 'series', 'drops_per_s'], { unit: 'pps', width: 12, threshold: t.relayDropsPerSecond }))
    .withPanel(f.table('Relays in range: forwarded, dropped, not allowed', sql.relaysTable(), ['node', 'forwarded', 'dropped', 'not_allowed', 'max_nodes', 'max_sessions'], { width: 12 }))
    .link(new DashboardLinkBuilder('Node detail').url(`/d/${DASHBOARD_UIDS.nodeDetail}/node-detail?var-node=\${node}&\${__url_time_range}`));
  return { uid, file: 'traffic-shaping.json', dashboard: b.build(), queries: f.queries };
}
