import type { Meter } from '@opentelemetry/api';

/** What TopologyMetrics observes at each collection (controller/topology-view.ts topologyFigures). */
export interface TopologySnapshot {
  mode: string;
  source: string;
  roles: Array<{ role: string; nodes: number; meanPeers: number; maxPeers: number }>;
  spokesWithoutHub: number;
}

/**
 * TopologyMetrics are the controller's topology instruments: the mode in force and where it came
 * from, nodes per role, the WireGuard peers their maps configure (mean and largest, per role), and
 * spokes without a live hub (alert TrellisTopologyNoHub).
 */
export class TopologyMetrics {
  constructor(meter: Meter, snapshot: () => TopologySnapshot | null) {
    const info = meter.createObservableGauge('trellis_topology_info', { description: 'The topology in force (1), labelled with its mode and source (config or policy)' });
    const nodes = meter.createObservableGauge('trellis_topology_nodes', { description: 'Nodes in the mesh by topology role (full, hub, spoke)' });
    const mean = meter.createObservableGauge('trellis_topology_peers_configured_mean', { description: 'Mean WireGuard peers configured per node, by topology role' });
    const max = meter.createObservableGauge('trellis_topology_peers_configured_max', { description: 'Largest number of WireGuard peers one node configures, by topology role' });
    const orphans = meter.createObservableGauge('trellis_topology_spokes_without_hub', { description: 'Spokes with no live hub to reach non-direct nodes through' });
    meter.addBatchObservableCallback(
      (obs) => {
        const s = snapshot();
        if (!s) return;
        obs.observe(info, 1, { mode: s.mode, source: s.source });
        for (const r of s.roles) {
          obs.observe(nodes, r.nodes, { role: r.role });
          obs.observe(mean, r.meanPeers, { role: r.role });
          obs.observe(max, r.maxPeers, { role: r.role });
        }
        obs.observe(orphans, s.spokesWithoutHub);
      },
      [info, nodes, mean, max, orphans],
    );
  }
}
