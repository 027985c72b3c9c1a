import { DashboardLinkBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelFactory } from '../panel-factory';
import { DASHBOARD_UIDS, trellisDashboard, type BuiltDashboard, type DashboardContext } from './dashboard-context';

/** Node detail: one node's paths to each peer over time (variables node and peer). */
export function nodeDetail({ sql, thresholds: t }: DashboardContext): BuiltDashboard {
  const uid = DASHBOARD_UIDS.nodeDetail;
  const f = new PanelFactory(uid);
  const b = trellisDashboard(uid, 'Trellis / Node detail', 'Per-peer RTT, loss, jitter, handshakes and throughput of one node.')
    .withVariable(f.variable({ name: 'node', label: 'Node', sql: sql.nodesVariable(), column: 'name', multi: false }))
    .withVariable(f.variable({ name: 'peer', label: 'Peer', sql: sql.peersVariable(), column: 'name', multi: true }))
    .withPanel(f.timeSeries('p50 RTT per peer', sql.nodePeerSeries('p50_ms'), ['time', 'series', 'p50_ms'], { unit: 'ms' }))
    .withPanel(f.timeSeries('p95 RTT per peer', sql.nodePeerSeries('p95_ms'), ['time', 'series', 'p95_ms'], { unit: 'ms', threshold: t.rttP95DefaultMs }))
    .withPanel(f.timeSeries('Loss per peer', sql.nodePeerSeries('loss_pct'), ['time', 'series', 'loss_pct'], { unit: 'percent', threshold: t.lossMaxPercent }))
    .withPanel(f.timeSeries('Jitter per peer', sql.nodePeerSeries('jitter_ms'), ['time', 'series', 'jitter_ms'], { unit: 'ms', threshold: t.jitterMaxMs }))
    .withPanel(f.timeSeries('Handshake age per peer', sql.handshakeAge(), ['time', 'series', 'handshake_age_s'], { unit: 's', threshold: t.handshakeMaxAgeSeconds }))
    .withPanel(f.timeSeries('Throughput per peer', sql.peerThroughput(), ['time', 'series', 'rx_bps', 'tx_bps'], { unit: 'bps' }))
    .link(new DashboardLinkBuilder('Traffic and shaping').url(`/d/${DASHBOARD_UIDS.traffic}/traffic-and-shaping?var-node=\${node}&\${__url_time_range}`));
  return { uid, file: 'node-detail.json', dashboard: b.build(), queries: f.queries };
}
