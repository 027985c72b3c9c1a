/**
 * Prometheus recording and alerting rules over the metrics-prometheus series, from the same
 * thresholds as the Grafana alerts (thresholds.ts), so a team on Prometheus and Alertmanager gets
 * the same alerts at the same numbers. Generated into dashboards/prometheus/trellis-rules.yml;
 * checked in the suite with `promtool check rules` and `promtool test rules`.
 *
 * Series: every agent series carries node (the agent) and peer (the other end); probes measure
 * the direct path, so per-path limits "a->b:direct" and "a->b" both apply to node="a", peer="b"
 * (other ":path" keys have no Prometheus series and are left to the ClickHouse rules). With more
 * peers than maxPeerSeries an agent serves peer="_aggregate" series instead (stat="min|avg|max"
 * on gauges); the rules read the worst stat, so they still fire, naming peer="_aggregate".
 */
import { stringify as stringifyYaml } from 'yaml';
import type { AlertThresholds } from './thresholds';

export const PROMETHEUS_RULES_FILE = 'prometheus/trellis-rules.yml';
export const RECORDING_GROUP = 'trellis-recording';
export const ALERTING_GROUP = 'trellis-alerts';

export interface PrometheusRecordingRule {
  record: string;
  expr: string;
}

export interface PrometheusAlertingRule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface PrometheusRuleGroup {
  name: string;
  interval: string;
  rules: Array<PrometheusRecordingRule | PrometheusAlertingRule>;
}

/** Recorded series, named level:metric:operations as the Prometheus docs ask. */
export const RECORDED = {
  rttP95: 'node_peer:trellis_probe_rtt_seconds:p95',
  rttP95LimitRatio: 'node_peer:trellis_probe_rtt_seconds:p95_over_limit',
  lossRatio: 'node_peer:trellis_probes_lost:ratio',
  jitterAvg: 'node_peer:trellis_peer_jitter_seconds:avg',
} as const;

/** promDuration renders seconds as a Prometheus duration (5m, 90s, 1h). */
export function promDuration(s: number): string {
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

/** promNumber renders a threshold without float noise (0.15, not 0.15000000000000002). */
const promNumber = (v: number) => String(Number(v.toPrecision(12)));

const quoteLabel = (v: string) => JSON.stringify(v);

/** The per-path RTT limits that apply to the direct path, most specific first (as rttLimitMs resolves them). */
function directPathLimits(t: AlertThresholds): Array<{ src: string; dst: string; ms: number }> {
  const out = new Map<string, { src: string; dst: string; ms: number }>();
  const entries = Object.entries(t.rttP95PathMs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const exact of [true, false]) {
    for (const [key, ms] of entries) {
      const [pair, path] = key.split(':') as [string, string | undefined];
      if (exact ? path !== 'direct' : path !== undefined) continue;
      const [src, dst] = pair.split('->') as [string, string];
      if (!out.has(pair)) out.set(pair, { src, dst, ms });
    }
  }
  return [...out.values()];
}

/** realtimeSelectors turns "src->dst" patterns (* any) into label matchers; "" matches every path. */
function realtimeSelectors(t: AlertThresholds): string[] {
  return t.realtimePaths.map((p) => {
    const [src, dst] = p.split('->') as [string, string];
    const m = [...(src !== '*' ? [`node=${quoteLabel(src)}`] : []), ...(dst !== '*' ? [`peer=${quoteLabel(dst)}`] : [])];
    return m.join(', ');
  });
}

export function recordingRules(t: AlertThresholds): PrometheusRuleGroup {
  const rttWindow = promDuration(t.rttWindowSeconds);
  const lossWindow = promDuration(t.lossWindowSeconds);
  const jitterWindow = promDuration(t.jitterWindowSeconds);
  const limits = directPathLimits(t);
  const ratio = [
    ...limits.map((l) => `${RECORDED.rttP95}{node=${quoteLabel(l.src)}, peer=${quoteLabel(l.dst)}} / ${promNumber(l.ms / 1000)}`),
    `${RECORDED.rttP95} / ${promNumber(t.rttP95DefaultMs / 1000)}`,
  ].join('\nor\n');
  return {
    name: RECORDING_GROUP,
    interval: promDuration(t.evaluationIntervalSeconds),
    rules: [
      {
        record: RECORDED.rttP95,
        expr: `histogram_quantile(0.95, sum by (node, peer, le) (rate(trellis_probe_rtt_seconds_bucket[${rttWindow}])))`,
      },
      // Each path's p95 over its own limit (rttP95PathMs, else rttP95DefaultMs): above 1 is too slow.
      { record: RECORDED.rttP95LimitRatio, expr: ratio },
      {
        // 0 (not absent) for a path that lost nothing: the "lost" counter exists only after a loss.
        record: RECORDED.lossRatio,
        expr:
          `(sum by (node, peer) (rate(trellis_probes_total{outcome="lost"}[${lossWindow}])) or 0 * sum by (node, peer) (rate(trellis_probes_total[${lossWindow}])))\n` +
          `/ sum by (node, peer) (rate(trellis_probes_total[${lossWindow}]))`,
      },
      {
        record: RECORDED.jitterAvg,
        expr: `max by (node, peer) (avg_over_time(trellis_peer_jitter_seconds{stat=~"|max"}[${jitterWindow}]))`,
      },
    ],
  };
}

export function alertingRules(t: AlertThresholds): PrometheusRuleGroup {
  const labels = (severity: 'critical' | 'warning', area: string) => ({ area, severity, team: 'trellis' });
  const rt = realtimeSelectors(t);
  const jitterSeries = rt.map((sel) => `${RECORDED.jitterAvg}${sel === '' ? '' : `{${sel}}`}`);
  const jitterExpr = jitterSeries.length === 0 ? null : jitterSeries.length === 1 ? jitterSeries[0]! : `(\n${jitterSeries.join('\nor\n')}\n)`;
  const rules: PrometheusAlertingRule[] = [
    {
      alert: 'TrellisTunnelDown',
      // Stale handshake, or a peer that never had one (no age series, tunnel_up 0).
      expr:
        `max by (node, peer) (trellis_peer_handshake_age_seconds{stat=~"|max"}) > ${t.handshakeMaxAgeSeconds}\n` +
        `or\n(max by (node, peer) (trellis_tunnel_up{stat=~"|min"}) == 0 unless on (node, peer) trellis_peer_handshake_age_seconds)`,
      for: promDuration(t.tunnelForSeconds),
      labels: labels('critical', 'tunnels'),
      annotations: {
        summary: `Tunnel {{ $labels.node }} -> {{ $labels.peer }} is down: {{ if eq $value 0.0 }}no handshake yet{{ else }}last handshake {{ $value | humanizeDuration }} ago{{ end }} (limit ${t.handshakeMaxAgeSeconds} s)`,
        grafana_uid: 'trellis-tunnel-down',
        threshold: String(t.handshakeMaxAgeSeconds),
      },
    },
    {
      alert: 'TrellisPathLoss',
      expr: `${RECORDED.lossRatio} > ${promNumber(t.lossMaxPercent / 100)}`,
      for: promDuration(t.lossForSeconds),
      labels: labels('warning', 'paths'),
      annotations: {
        summary: `Loss {{ $labels.node }} -> {{ $labels.peer }}: {{ $value | humanizePercentage }} over ${promDuration(t.lossWindowSeconds)} (limit ${t.lossMaxPercent} %)`,
        grafana_uid: 'trellis-path-loss',
        threshold: promNumber(t.lossMaxPercent / 100),
      },
    },
    {
      alert: 'TrellisPathRttP95',
      expr: `${RECORDED.rttP95LimitRatio} > 1`,
      for: promDuration(t.rttForSeconds),
      labels: labels('warning', 'paths'),
      annotations: {
        summary: `p95 RTT {{ $labels.node }} -> {{ $labels.peer }} is {{ $value | printf "%.2f" }} x its limit (default ${t.rttP95DefaultMs} ms)`,
        grafana_uid: 'trellis-path-rtt-p95',
        threshold: '1',
      },
    },
    ...(jitterExpr === null
      ? []
      : [
          {
            alert: 'TrellisRealtimeJitter',
            expr: `${jitterExpr} > ${promNumber(t.jitterMaxMs / 1000)}`,
            for: promDuration(t.jitterForSeconds),
            labels: labels('warning', 'paths'),
            annotations: {
              summary: `Jitter {{ $labels.node }} -> {{ $labels.peer }}: {{ $value | humanizeDuration }} (limit ${t.jitterMaxMs} ms)`,
              grafana_uid: 'trellis-realtime-jitter',
              threshold: promNumber(t.jitterMaxMs / 1000),
            },
          },
        ]),
    {
      alert: 'TrellisPairRelayed',
      // The agent's gauge counts how long the pair has used a relay without a break (0 when direct).
      expr: `max without (stat) (trellis_peer_relayed_seconds) > ${t.relayedMaxSeconds}`,
      labels: labels('warning', 'paths'),
      annotations: {
        summary: `{{ $labels.node }} -> {{ $labels.peer }} has used a relay for {{ $value | humanizeDuration }} (limit ${t.relayedMaxSeconds} s): its direct path is broken or much slower`,
        grafana_uid: 'trellis-pair-relayed',
        threshold: String(t.relayedMaxSeconds),
      },
    },
    {
      alert: 'TrellisPathEndpointDrift',
      // One write-back fixes a late datagram over an old path; many mean something keeps moving WireGuard off the chosen path.
      expr: `sum by (node, peer) (increase(trellis_path_endpoint_reasserts_total[1h])) > ${promNumber(t.endpointReassertsPerHour)}`,
      labels: labels('warning', 'paths'),
      annotations: {
        summary: `{{ $labels.node }} -> {{ $labels.peer }}: the chosen path's endpoint was written back {{ $value | printf "%.0f" }} times in an hour (limit ${t.endpointReassertsPerHour}): WireGuard keeps roaming onto another path`,
        grafana_uid: 'trellis-path-endpoint-drift',
        threshold: promNumber(t.endpointReassertsPerHour),
      },
    },
    {
      alert: 'TrellisRelayDrops',
      // The relay node's agent exports its forwarder's drop counter by reason (notAllowed, unknownSource, badMac, ...).
      expr: `sum by (node) (rate(trellis_relay_dropped_packets_total[${promDuration(t.relayDropsWindowSeconds)}])) > ${promNumber(t.relayDropsPerSecond)}`,
      for: promDuration(t.relayDropsForSeconds),
      labels: labels('warning', 'paths'),
      annotations: {
        summary: `Relay {{ $labels.node }} drops {{ $value | printf "%.2f" }} datagrams/s (limit ${t.relayDropsPerSecond}): see trellis_relay_dropped_packets_total by reason`,
        grafana_uid: 'trellis-relay-drops',
        threshold: promNumber(t.relayDropsPerSecond),
      },
    },
    {
      alert: 'TrellisNodesOffline',
      expr: `trellis_nodes - trellis_nodes_online > 0`,
      for: promDuration(t.nodeOfflineForSeconds),
      labels: labels('critical', 'nodes'),
      annotations: {
        summary: '{{ $value }} node(s) hold no map stream to controller {{ $labels.node }}',
        grafana_uid: 'trellis-node-offline',
        threshold: '0',
      },
    },
    {
      alert: 'TrellisStoreFeedDown',
      // A controller sharing PostgreSQL that no longer hears the others serves maps that miss their changes.
      expr: `trellis_store_feed_listening == 0`,
      for: '30s',
      labels: labels('critical', 'controllers'),
      annotations: {
        summary: 'Controller {{ $labels.instance }} does not follow the changes other controllers make to the shared store',
        grafana_uid: 'trellis-store-feed',
        threshold: '0',
      },
    },
    {
      alert: 'TrellisControllerFailover',
      expr: `increase(trellis_controller_failovers_total[5m]) > 0`,
      labels: labels('warning', 'controllers'),
      annotations: {
        summary: 'Node {{ $labels.node }} moved to another controller: the one it used could not be reached',
        grafana_uid: 'trellis-controller-failover',
        threshold: '0',
      },
    },
    {
      alert: 'TrellisPostureFailure',
      expr: `trellis_posture_compliant == 0`,
      labels: labels('critical', 'posture'),
      annotations: {
        summary: 'Node {{ $labels.node }} fails its posture check',
        grafana_uid: 'trellis-posture',
        threshold: '0',
      },
    },
    {
      alert: 'TrellisTelemetryStalled',
      // No batch reached the controller in the window while nodes are online to send one.
      expr:
        `(sum without (duplicate) (increase(trellis_telemetry_batches_total[${promDuration(t.telemetryStalledSeconds)}])) or 0 * trellis_nodes_online) == 0\n` +
        `and trellis_nodes_online > 0`,
      for: promDuration(t.telemetryForSeconds),
      labels: labels('critical', 'telemetry'),
      annotations: {
        summary: `Controller {{ $labels.node }} received no telemetry for ${t.telemetryStalledSeconds} s while nodes are online`,
        grafana_uid: 'trellis-telemetry-stalled',
        threshold: String(t.telemetryStalledSeconds),
      },
    },
    {
      alert: 'TrellisShapingDrops',
      expr: `sum by (node, iface, direction, class) (rate(trellis_shaping_dropped_packets_total[${promDuration(t.shapingWindowSeconds)}])) > ${promNumber(t.shapingDropsPerSecond)}`,
      for: promDuration(t.shapingForSeconds),
      labels: labels('warning', 'shaping'),
      annotations: {
        summary: `{{ $labels.node }} {{ $labels.iface }} {{ $labels.direction }} class {{ $labels.class }} drops {{ $value | printf "%.1f" }} packets/s (limit ${t.shapingDropsPerSecond})`,
        grafana_uid: 'trellis-shaping-drops',
        threshold: promNumber(t.shapingDropsPerSecond),
      },
    },
    ...(['build', 'change', 'fanout'] as const).map((kind) => {
      const limitMs = kind === 'build' ? t.mapBuildP95MaxMs : kind === 'change' ? t.mapChangeP95MaxMs : t.mapFanoutP95MaxMs;
      const what = kind === 'build' ? 'full map rebuild' : kind === 'change' ? 'incremental map change' : 'map fan-out to every stream';
      return {
        alert: kind === 'build' ? 'TrellisMapBuildSlow' : kind === 'change' ? 'TrellisMapChangeSlow' : 'TrellisMapFanoutSlow',
        expr: `histogram_quantile(0.95, sum by (node, le) (rate(trellis_map_${kind}_duration_seconds_bucket[${promDuration(t.mapWindowSeconds)}]))) > ${promNumber(limitMs / 1000)}`,
        for: promDuration(t.mapForSeconds),
        labels: labels('warning', 'controller'),
        annotations: {
          summary: `Controller {{ $labels.node }}: p95 ${what} takes {{ $value | humanizeDuration }} over ${promDuration(t.mapWindowSeconds)} (limit ${limitMs} ms)`,
          grafana_uid: `trellis-map-${kind}-slow`,
          threshold: promNumber(limitMs / 1000),
        },
      };
    }),
    {
      alert: 'TrellisDeviceWithoutOffloads',
      // TUN segmentation offloads off: every packet crosses the TUN alone, about a fifth of the throughput.
      expr: `trellis_wg_device_segmentation_offload == 0`,
      for: promDuration(t.deviceForSeconds),
      labels: labels('warning', 'devices'),
      annotations: {
        summary: 'Agent {{ $labels.node }} runs its WireGuard device without TUN segmentation offloads (old wireguard-go build or a TUN without vnet headers)',
        grafana_uid: 'trellis-device-offloads',
        threshold: '0',
      },
    },
    {
      alert: 'TrellisDeviceFallback',
      expr: `trellis_wg_device_fallback == 1`,
      for: promDuration(t.deviceForSeconds),
      labels: labels('warning', 'devices'),
      annotations: {
        summary: 'Agent {{ $labels.node }} fell back to another wireguard-go than the bundled build (see `trellis status`); run scripts/setup.sh',
        grafana_uid: 'trellis-device-fallback',
        threshold: '1',
      },
    },
    {
      alert: 'TrellisRouteNoHealthyGateway',
      // Every approved gateway of a subnet is offline or its route check fails: the LAN behind it is unreachable.
      expr: `trellis_route_prefixes_unhealthy > 0`,
      for: '30s',
      labels: labels('critical', 'routes'),
      annotations: {
        summary: '{{ $value }} routed subnet(s) have no healthy gateway (see `trellis routes`)',
        grafana_uid: 'trellis-route-unhealthy',
        threshold: '0',
      },
    },
    {
      alert: 'TrellisExitNodeFallback',
      // The exit node a node chose is offline, unapproved or not allowed: its traffic leaves through the fallback or locally.
      expr: `trellis_exit_node_fallback == 1`,
      for: '1m',
      labels: labels('warning', 'routes'),
      annotations: {
        summary: 'Node {{ $labels.node }} does not use its chosen exit node {{ $labels.exit_node }}: its traffic leaves through the fallback or locally (see `trellis status`)',
        grafana_uid: 'trellis-exit-node-fallback',
        threshold: '1',
      },
    },
    {
      alert: 'TrellisAuthFailureBurst',
      // The controller keeps each source's failures of its current window; the worst source is the gauge.
      expr: `max by (node) (max_over_time(trellis_auth_failures_max_per_source[${promDuration(t.authFailureWindowSeconds)}])) > ${promNumber(t.authFailuresPerSource)}`,
      labels: labels('warning', 'security'),
      annotations: {
        summary: `A source failed authentication {{ $value }} times within one window on controller {{ $labels.node }} (limit ${t.authFailuresPerSource}); see trellis audit --type auth`,
        grafana_uid: 'trellis-auth-failure-burst',
        threshold: promNumber(t.authFailuresPerSource),
      },
    },
    {
      alert: 'TrellisPeerSpike',
      // Live tunnels now against the most the node had in any earlier window over the baseline.
      expr:
        `count by (node) (trellis_tunnel_up{peer!="_aggregate"} == 1)\n` +
        `- max_over_time((count by (node) (trellis_tunnel_up{peer!="_aggregate"} == 1))[${promDuration(t.peerBaselineSeconds)}:${promDuration(t.peerSpikeWindowSeconds)}] offset ${promDuration(t.peerSpikeWindowSeconds)})\n` +
        `> ${promNumber(t.peerSpikeExtraPeers)}`,
      labels: labels('warning', 'security'),
      annotations: {
        summary: `Node {{ $labels.node }} has live tunnels with {{ $value }} more peers than its usual most (limit ${t.peerSpikeExtraPeers})`,
        grafana_uid: 'trellis-peer-spike',
        threshold: promNumber(t.peerSpikeExtraPeers),
      },
    },
    {
      alert: 'TrellisAuditUnsigned',
      // The newest checkpoint is older than the limit while entries have waited unsigned all along.
      expr:
        `max by (node) (trellis_audit_checkpoint_age_seconds) > ${promNumber(t.auditUnsignedMaxSeconds)}\n` +
        `and on (node) max by (node) (min_over_time(trellis_audit_unsigned_entries[${promDuration(t.auditUnsignedMaxSeconds)}])) > 0`,
      labels: labels('warning', 'security'),
      annotations: {
        summary: `Controller {{ $labels.node }} has not signed an audit checkpoint for {{ $value }} s while entries wait (limit ${t.auditUnsignedMaxSeconds} s); check its logs and run trellis audit verify`,
        grafana_uid: 'trellis-audit-unsigned',
        threshold: promNumber(t.auditUnsignedMaxSeconds),
      },
    },
    {
      alert: 'TrellisTopologyNoHub',
      // Spokes reach every node they have no direct link with through a hub: with none live, they reach only those.
      expr: `trellis_topology_spokes_without_hub > 0`,
      for: '30s',
      labels: labels('critical', 'topology'),
      annotations: {
        summary: '{{ $value }} spoke(s) have no live hub: they reach only their direct peers (see `trellis topology`)',
        grafana_uid: 'trellis-topology-no-hub',
        threshold: '0',
      },
    },
    {
      alert: 'TrellisOnDemandHandshakeFailing',
      // A spoke added a remote spoke on demand but no handshake came through the hub relay: the pair stays hop by hop (the hub sees its plaintext).
      expr: `sum by (node) (increase(trellis_on_demand_peer_events_total{event="handshake_failed"}[10m])) > 0`,
      for: '0s',
      labels: labels('warning', 'topology'),
      annotations: {
        summary: '{{ $labels.node }}: {{ $value }} on-demand peer(s) got no handshake through the hub relay in 10 min; that traffic stays hop by hop through the hub (check the hub relay with `trellis relay` and the spokes\' `trellis paths`)',
        grafana_uid: 'trellis-on-demand-handshake-failing',
        threshold: '0',
      },
    },
  ];
  return { name: ALERTING_GROUP, interval: promDuration(t.evaluationIntervalSeconds), rules };
}

/** prometheusRules is the rules file document: { groups: [recording, alerting] }. */
export function prometheusRules(t: AlertThresholds): { groups: PrometheusRuleGroup[] } {
  return { groups: [recordingRules(t), alertingRules(t)] };
}

/**
 * prometheusRulesYaml renders the rules file. Keys stay in the order Prometheus documents them
 * (record/alert, expr, for, labels, annotations), which the code above fixes, so the output is
 * as stable as the sorted files beside it.
 */
export function prometheusRulesYaml(t: AlertThresholds, headerLines: string[]): string {
  return headerLines.map((l) => `# ${l}\n`).join('') + stringifyYaml(prometheusRules(t), { lineWidth: 0 });
}
