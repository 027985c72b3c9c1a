/**
 * The PromQL of the panels on the Prometheus datasource: each one parses (promtool checks it as a
 * recording rule) and reads only series Trellis exports.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { generate } from './generate';

const EXPORTED = new Set([
  'trellis_map_build_duration_seconds_bucket',
  'trellis_map_build_duration_seconds_count',
  'trellis_map_change_duration_seconds_bucket',
  'trellis_map_change_duration_seconds_count',
  'trellis_map_fanout_duration_seconds_bucket',
  'trellis_wg_device_info',
  'trellis_wg_device_segmentation_offload',
  'trellis_wg_device_fallback',
  'trellis_exit_node_in_use',
  'trellis_exit_node_fallback',
  'trellis_exit_node_switches_total',
  'trellis_relay_dropped_packets_total',
  'trellis_path_endpoint_reasserts_total',
  'trellis_topology_peers_configured_mean',
  'trellis_topology_peers_configured_max',
  'trellis_topology_spokes_without_hub',
  'trellis_topology_info',
  'trellis_topology_nodes',
  'trellis_on_demand_peers',
  'trellis_on_demand_peer_events_total',
]);

describe('Prometheus panels', () => {
  const { promQueries, dashboards } = generate();

  it('the Controller & devices dashboard shows map durations and agent devices from Prometheus', () => {
    expect(promQueries.map((q) => q.panel)).toEqual([
      'p95 full map rebuild',
      'p95 incremental map change',
      'p95 map fan-out to every stream',
      'Map rebuilds and changes per minute',
      'Agent devices (driver, version, commit)',
      'Agents without TUN offloads',
      'Agents on a fallback build',
      'Exit node in use (node, exit node, role)',
      'Nodes not on their chosen exit node',
      'Exit node switches per hour',
      'Relay drops per second, by reason',
      'Path endpoints written back per hour (WireGuard had roamed a peer off its chosen path)',
      'WireGuard peers configured per node, by topology role',
      'Spokes without a live hub',
      'Topology in force (mode, source) and nodes by role',
      'On-demand spoke peers per node, by state',
      'On-demand peers without a handshake per hour',
    ]);
    const d = dashboards.find((x) => x.uid === 'trellis-controller-devices')!;
    expect(JSON.stringify(d.dashboard)).toContain('"uid":"trellis-prometheus"');
    expect(promQueries.find((q) => q.panel === 'p95 full map rebuild')!.expr).toBe('histogram_quantile(0.95, sum by (node, le) (rate(trellis_map_build_duration_seconds_bucket[600s])))');
  });

  it('every query parses (promtool check rules) and reads only exported series', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trellis-panel-promql-'));
    try {
      const rules = { groups: [{ name: 'panels', rules: promQueries.map((q, i) => ({ record: `trellis:panel_${i}`, expr: q.expr })) }] };
      writeFileSync(join(dir, 'panels.yml'), stringifyYaml(rules, { lineWidth: 0 }));
      const out = execFileSync('promtool', ['check', 'rules', join(dir, 'panels.yml')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(out).toContain(`SUCCESS: ${promQueries.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const read = promQueries.flatMap((q) => q.expr.match(/\btrellis_[a-z_]+/g) ?? []);
    expect(read.filter((name) => !EXPORTED.has(name))).toEqual([]);
  });
});
