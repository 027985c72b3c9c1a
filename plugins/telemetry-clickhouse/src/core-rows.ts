/**
 * Mapping from core's wire types (TelemetryBatch with shaping-tc's plugin rows, NodeEvent) to this
 * plugin's stored row types, so the controller's onTelemetry and onNodeEvent hooks feed the exporter.
 */
import type { AuditRecordEvent, NodeEvent, TelemetryBatch as CoreBatch } from '@trellis/core/api';
import type { NodeEventKind, ShapingClassStat, TelemetryBatch } from './rows';

/** The plugin whose telemetry rows become shaping_stats (one tc class's counters each, see shaping-tc). */
export const SHAPING_PLUGIN = 'shaping-tc';

/** fromCoreBatch keeps the agent's batchId, so a re-sent batch keeps its dedup key downstream too. */
export function fromCoreBatch(b: CoreBatch): TelemetryBatch {
  return {
    batchId: b.batchId,
    probes: b.probes.map((p) => ({ at: p.ts, src: p.src, dst: p.dst, path: p.path, seq: p.seq, rttUs: p.rttUs, lost: p.lost, jitterUs: p.jitterUs })),
    tunnels: b.tunnels.map((t) => ({ at: t.ts, node: t.src, peer: t.dst, rxBytes: t.rxBytes, txBytes: t.txBytes, handshakeAgeS: t.handshakeAgeS })),
    ...(b.relays?.length
      ? {
          relays: b.relays.map((r) => ({
            at: r.ts,
            node: r.src,
            port: r.port,
            forwardedPackets: r.forwardedPackets,
            forwardedBytes: r.forwardedBytes,
            droppedPackets: r.droppedPackets,
            droppedNotAllowed: r.droppedNotAllowed,
            nodes: r.nodes,
            sessions: r.sessions,
          })),
        }
      : {}),
    // Plugin rows arrive unchecked by core; toDbRows checks every field before anything is stored.
    shaping: (b.plugins?.[SHAPING_PLUGIN] ?? []).map(
      (s) =>
        ({
          at: s.ts,
          node: s.node,
          iface: s.iface,
          classId: `${String(s.direction)}:${String(s.class)}`,
          bytes: s.bytes,
          packets: s.packets,
          drops: s.drops,
          overlimits: s.overlimits,
          backlog: s.backlog,
        }) as ShapingClassStat,
    ),
  };
}

const KIND: Partial<Record<NodeEvent['kind'], NodeEventKind>> = {
  enrolled: 'join',
  revoked: 'revoke',
  online: 'online',
  offline: 'offline',
  removed: 'leave',
  expired: 'leave',
};

/** fromNodeEvent maps a node event to a node_events row batch; facts reports are not node events here (null). */
export function fromNodeEvent(ev: NodeEvent, batchId: string): TelemetryBatch | null {
  const kind = KIND[ev.kind];
  if (!kind) return null;
  const details = { ...(ev.details ?? {}), nodeId: ev.nodeId, ...(ev.kind === 'expired' ? { reason: 'expired' } : {}) };
  return { batchId, nodeEvents: [{ at: ev.at, node: ev.nodeName, kind, details }] };
}

/**
 * fromAuditEvents maps the controller's audit entries to audit_events rows. The batch id names the
 * seq range, so a range exported again (a controller restarted mid-export) replaces, not doubles.
 * The entry's seq and chain hash ride in details, to match a row with the controller's log.
 */
export function fromAuditEvents(events: readonly AuditRecordEvent[]): TelemetryBatch | null {
  if (events.length === 0) return null;
  return {
    batchId: `audit-${events[0]!.seq}-${events.at(-1)!.seq}`,
    audit: events.map((e) => ({
      at: e.at,
      action: e.action,
      actor: e.actor,
      ...(e.target !== null ? { target: e.target } : {}),
      details: { ...e.details, seq: e.seq, ...(e.hash !== null ? { hash: e.hash } : {}) },
    })),
  };
}
