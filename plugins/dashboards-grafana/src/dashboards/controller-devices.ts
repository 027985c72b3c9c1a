import { PanelFactory } from '../panel-factory';
import { DASHBOARD_UIDS, trellisDashboard, type BuiltDashboard, type DashboardContext } from './dashboard-context';

/**
 * Controller & devices: how long the controller takes to build maps (a full rebuild, an
 * incremental change), which WireGuard build each agent runs, with its TUN offloads, and which exit
 * node each node that chose one uses. These are the controller's and agents' own figures, from the
 * Prometheus scraping metrics-prometheus; and what relay nodes' forwarders drop, by reason, and
 * how often agents wrote a chosen path's endpoint back after WireGuard roamed a peer off it
 * (alert TrellisPathEndpointDrift when it keeps happening).
 * The topology panels show what the topology in force makes each node configure (mean and largest
 * WireGuard peer count per role) and spokes left without a live hub (alert TrellisTopologyNoHub).
 */
export function controllerDevices({ thresholds: t }: DashboardContext): BuiltDashboard {
  const uid = DASHBOARD_UIDS.controllerDevices;
  const f = new PanelFactory(uid);
  const window = `${t.mapWindowSeconds}s`;
  const p95 = (kind: 'build' | 'change' | 'fanout') => `histogram_quantile(0.95, sum by (node, le) (rate(trellis_map_${kind}_duration_seconds_bucket[${window}])))`;
  const b = trellisDashboard(uid, 'Trellis / Controller & devices', 'Map pipeline durations on the controller, the WireGuard device build and TUN offloads of every agent, the exit nodes in use, and relay drops by reason (Prometheus).')
    .withPanel(f.promTimeSeries('p95 full map rebuild', p95('build'), '{{node}}', { unit: 's', threshold: t.mapBuildP95MaxMs / 1000 }))
    .withPanel(f.promTimeSeries('p95 incremental map change', p95('change'), '{{node}}', { unit: 's', threshold: t.mapChangeP95MaxMs / 1000 }))
    // Apply and send: when the last open stream was handed its response (alert TrellisMapFanoutSlow).
    .withPanel(f.promTimeSeries('p95 map fan-out to every stream', p95('fanout'), '{{node}}', { unit: 's', width: 24, threshold: t.mapFanoutP95MaxMs / 1000 }))
    .withPanel(
      f.promTimeSeries(
        'Map rebuilds and changes per minute',
        'label_replace(sum by (node) (rate(trellis_map_build_duration_seconds_count[5m])) * 60, "kind", "rebuilds", "", "")\n' +
          'or label_replace(sum by (node) (rate(trellis_map_change_duration_seconds_count[5m])) * 60, "kind", "changes", "", "")',
        '{{node}} {{kind}}',
        { width: 24 },
      ),
    )
    .withPanel(
      f.promTable('Agent devices (driver, version, commit)', 'trellis_wg_device_info', { height: 10 }),
    )
    .withPanel(f.promTimeSeries('Agents without TUN offloads', 'count(trellis_wg_device_segmentation_offload == 0) or vector(0)', 'agents', { width: 12, threshold: 1 }))
    .withPanel(f.promTimeSeries('Agents on a fallback build', 'count(trellis_wg_device_fallback == 1) or vector(0)', 'agents', { width: 12, threshold: 1 }))
    .withPanel(f.promTable('Exit node in use (node, exit node, role)', 'trellis_exit_node_in_use == 1', { width: 12 }))
    .withPanel(f.promTimeSeries('Nodes not on their chosen exit node', 'count(trellis_exit_node_fallback == 1) or vector(0)', 'nodes', { width: 12, threshold: 1 }))
    .withPanel(f.promTimeSeries('Exit node switches per hour', 'sum by (node) (increase(trellis_exit_node_switches_total[1h]))', '{{node}}', { width: 24 }))
    .withPanel(
      f.promTimeSeries('Relay drops per second, by reason', `sum by (node, reason) (rate(trellis_relay_dropped_packets_total[${t.relayDropsWindowSeconds}s]))`, '{{node}} {{reason}}', {
        unit: 'pps',
        threshold: t.relayDropsPerSecond,
      }),
    )
    .withPanel(
      f.promTimeSeries(
        'Path endpoints written back per hour (WireGuard had roamed a peer off its chosen path)',
        'sum by (node, peer, path) (increase(trellis_path_endpoint_reasserts_total[1h]))',
        '{{node}} -> {{peer}} ({{path}})',
        { width: 24 },
      ),
    )
    .withPanel(
      f.promTimeSeries(
        'WireGuard peers configured per node, by topology role',
        'label_replace(trellis_topology_peers_configured_mean, "stat", "mean", "", "")\nor label_replace(trellis_topology_peers_configured_max, "stat", "max", "", "")',
        '{{role}} {{stat}}',
        { width: 12 },
      ),
    )
    .withPanel(f.promTimeSeries('Spokes without a live hub', 'sum(trellis_topology_spokes_without_hub) or vector(0)', 'spokes', { width: 12, threshold: 1 }))
    .withPanel(f.promTable('Topology in force (mode, source) and nodes by role', 'trellis_topology_info or trellis_topology_nodes', { height: 8 }))
    .withPanel(f.promTimeSeries('On-demand spoke peers per node, by state', 'sum by (node, state) (trellis_on_demand_peers)', '{{node}} {{state}}', { width: 12 }))
    .withPanel(
      f.promTimeSeries('On-demand peers without a handshake per hour', 'sum by (node) (increase(trellis_on_demand_peer_events_total{event="handshake_failed"}[1h])) or vector(0)', '{{node}}', {
        width: 12,
        threshold: 1,
      }),
    );
  return { uid, file: 'controller-devices.json', dashboard: b.build(), queries: f.queries, promQueries: f.promQueries };
}
