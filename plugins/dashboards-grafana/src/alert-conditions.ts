/**
 * Alert conditions in a form both Grafana and the controller can evaluate: SQL with datasource
 * macros returning string label columns and one numeric `value` column per row, a threshold, the
 * window the macros cover and how long the condition must hold. alert-rules.ts turns them into
 * Grafana rules; the controller can run them live with expandMacros over [now - window, now].
 */
import type { TelemetrySql } from './telemetry-sql';
import type { AlertThresholds } from './thresholds';

export interface AlertCondition {
  uid: string;
  title: string;
  /** SQL with $__ macros; rows of label columns plus `value`. */
  sql: string;
  /** Label columns of the result, in order (besides `value`). */
  labelColumns: string[];
  /** The rule fires for a row when `value > threshold` has held for forSeconds. */
  threshold: number;
  op: 'gt';
  /** The query's time range: [now - windowSeconds, now]. */
  windowSeconds: number;
  forSeconds: number;
  labels: Record<string, string>;
  summary: string;
}

/** alertConditions lists every Trellis alert, all numbers taken from the thresholds object. */
export function alertConditions(sql: TelemetrySql, t: AlertThresholds): AlertCondition[] {
  const c = (x: Omit<AlertCondition, 'op' | 'labels'> & { severity: 'critical' | 'warning'; area: string }): AlertCondition => {
    const { severity, area, ...rest } = x;
    return { ...rest, op: 'gt', labels: { area, severity, team: 'trellis' } };
  };
  return [
    c({
      uid: 'trellis-tunnel-down',
      title: 'Tunnel down or stale handshake',
      sql: sql.alertTunnel(),
      labelColumns: ['node', 'peer'],
      threshold: t.handshakeMaxAgeSeconds,
      windowSeconds: Math.max(600, t.handshakeMaxAgeSeconds * 2),
      forSeconds: t.tunnelForSeconds,
      severity: 'critical',
      area: 'tunnels',
      summary: `Tunnel {{ $labels.node }} -> {{ $labels.peer }}: last handshake {{ $values.A }} s ago (limit ${t.handshakeMaxAgeSeconds} s)`,
    }),
    c({
      uid: 'trellis-path-loss',
      title: 'Probe loss above limit',
      sql: sql.alertLoss(),
      labelColumns: ['src', 'dst', 'path'],
      threshold: t.lossMaxPercent,
      windowSeconds: t.lossWindowSeconds,
      forSeconds: t.lossForSeconds,
      severity: 'warning',
      area: 'paths',
      summary: `Loss {{ $labels.src }} -> {{ $labels.dst }} via {{ $labels.path }}: {{ $values.A }} % (limit ${t.lossMaxPercent} %)`,
    }),
    c({
      uid: 'trellis-path-rtt-p95',
      title: 'p95 RTT above the path limit',
      sql: sql.alertRtt(t),
      labelColumns: ['src', 'dst', 'path'],
      threshold: 1,
      windowSeconds: t.rttWindowSeconds,
      forSeconds: t.rttForSeconds,
      severity: 'warning',
      area: 'paths',
      summary: `p95 RTT {{ $labels.src }} -> {{ $labels.dst }} via {{ $labels.path }} is {{ $values.A }} x its limit`,
    }),
    c({
      uid: 'trellis-realtime-jitter',
      title: 'Jitter above limit on a realtime path',
      sql: sql.alertJitter(t),
      labelColumns: ['src', 'dst', 'path'],
      threshold: t.jitterMaxMs,
      windowSeconds: t.jitterWindowSeconds,
      forSeconds: t.jitterForSeconds,
      severity: 'warning',
      area: 'paths',
      summary: `Jitter {{ $labels.src }} -> {{ $labels.dst }} via {{ $labels.path }}: {{ $values.A }} ms (limit ${t.jitterMaxMs} ms)`,
    }),
    c({
      uid: 'trellis-pair-relayed',
      title: 'Pair relayed for too long',
      sql: sql.alertRelayed(),
      labelColumns: ['src', 'dst'],
      threshold: t.relayedMaxSeconds,
      windowSeconds: Math.max(1800, t.relayedMaxSeconds * 2),
      forSeconds: 0,
      severity: 'warning',
      area: 'paths',
      summary: `{{ $labels.src }} -> {{ $labels.dst }} has used a relay for {{ $values.A }} s (limit ${t.relayedMaxSeconds} s): its direct path is broken or much slower`,
    }),
    c({
      uid: 'trellis-node-offline',
      title: 'Node offline',
      sql: sql.alertNodeOffline(),
      labelColumns: ['node'],
      threshold: 0,
      windowSeconds: 600,
      forSeconds: t.nodeOfflineForSeconds,
      severity: 'critical',
      area: 'nodes',
      summary: 'Node {{ $labels.node }} is offline',
    }),
    c({
      uid: 'trellis-posture',
      title: 'Posture failure or quarantine',
      sql: sql.alertPosture(),
      labelColumns: ['node'],
      threshold: 0,
      windowSeconds: t.postureWindowSeconds,
      forSeconds: 0,
      severity: 'critical',
      area: 'posture',
      summary: 'Node {{ $labels.node }} fails its posture check or was quarantined',
    }),
    c({
      uid: 'trellis-telemetry-stalled',
      title: 'Telemetry pipeline stalled',
      sql: sql.alertTelemetryStalled(),
      labelColumns: ['pipeline'],
      threshold: t.telemetryStalledSeconds,
      windowSeconds: 600,
      forSeconds: t.telemetryForSeconds,
      severity: 'critical',
      area: 'telemetry',
      summary: `No telemetry reached ClickHouse for {{ $values.A }} s (limit ${t.telemetryStalledSeconds} s)`,
    }),
    c({
      uid: 'trellis-telemetry-lag',
      title: 'Telemetry delivery lagging (spool backlog)',
      sql: sql.alertTelemetryLag(),
      labelColumns: ['pipeline'],
      threshold: t.telemetryLagMaxSeconds,
      windowSeconds: Math.max(900, t.telemetryLagMaxSeconds * 4),
      forSeconds: t.telemetryForSeconds,
      severity: 'warning',
      area: 'telemetry',
      summary: `Telemetry blocks land {{ $values.A }} s after their newest row (limit ${t.telemetryLagMaxSeconds} s): the spool is filling or replaying`,
    }),
    c({
      uid: 'trellis-auth-failure-burst',
      title: 'Burst of failed authentications from one source',
      sql: sql.alertAuthFailures(),
      labelColumns: ['remote'],
      threshold: t.authFailuresPerSource,
      windowSeconds: t.authFailureWindowSeconds,
      forSeconds: 0,
      severity: 'warning',
      area: 'security',
      summary: `{{ $labels.remote }} failed authentication {{ $values.A }} times in ${t.authFailureWindowSeconds} s (limit ${t.authFailuresPerSource}): enrolment, admin token, console login or node signatures; see trellis audit --type auth`,
    }),
    c({
      uid: 'trellis-peer-spike',
      title: 'Node contacting far more peers than usual',
      sql: sql.alertPeerSpike(t),
      labelColumns: ['node'],
      threshold: t.peerSpikeExtraPeers,
      windowSeconds: t.peerBaselineSeconds,
      forSeconds: 0,
      severity: 'warning',
      area: 'security',
      summary: `Node {{ $labels.node }} has live tunnels with {{ $values.A }} more peers than its usual most over ${t.peerBaselineSeconds / 3600} h (limit ${t.peerSpikeExtraPeers}): lateral movement or a scan?`,
    }),
    c({
      uid: 'trellis-audit-unsigned',
      title: 'Audit log not being signed',
      sql: sql.alertAuditUnsigned(),
      labelColumns: ['log'],
      threshold: t.auditUnsignedMaxSeconds,
      windowSeconds: Math.max(3600, t.auditUnsignedMaxSeconds * 4),
      forSeconds: 0,
      severity: 'warning',
      area: 'security',
      summary: `Audit entries have waited {{ $values.A }} s for a signed checkpoint (limit ${t.auditUnsignedMaxSeconds} s): the controller stopped signing its log; check its logs for "audit checkpoint failed" and run trellis audit verify`,
    }),
    c({
      uid: 'trellis-shaping-drops',
      title: 'Shaping drops',
      sql: sql.alertShapingDrops(),
      labelColumns: ['node', 'iface', 'class_id'],
      threshold: t.shapingDropsPerSecond,
      windowSeconds: t.shapingWindowSeconds,
      forSeconds: t.shapingForSeconds,
      severity: 'warning',
      area: 'shaping',
      summary: `{{ $labels.node }} {{ $labels.iface }} class {{ $labels.class_id }} drops {{ $values.A }} packets/s (limit ${t.shapingDropsPerSecond})`,
    }),
    c({
      uid: 'trellis-relay-drops',
      title: 'Relay dropping packets',
      sql: sql.alertRelayDrops(),
      labelColumns: ['node'],
      threshold: t.relayDropsPerSecond,
      windowSeconds: t.relayDropsWindowSeconds,
      forSeconds: t.relayDropsForSeconds,
      severity: 'warning',
      area: 'paths',
      summary: `Relay {{ $labels.node }} drops {{ $values.A }} datagrams/s (limit ${t.relayDropsPerSecond}): pairs it may not serve, nodes it does not know, or forged traffic; see its drop reasons`,
    }),
  ];
}
