import type { Meter } from '@opentelemetry/api';

/** A relay's figures at a scrape (trellis-wg relay's info), or null when the node runs no relay. */
export interface RelayMetricsSnapshot {
  forwardedPackets: number;
  forwardedBytes: number;
  pingsAccepted: number;
  /** Dropped datagrams by reason (notAllowed, unknownSource, badMac, ...). */
  drops: Record<string, number>;
  writeErrors: number;
  /** Nodes with a live address at the relay. */
  nodes: number;
  pairs: number;
  /** Receiver-index routes (sessions) it forwards by. */
  routes: number;
}

/**
 * RelayMetrics are a relay node's forwarder figures, observed from the relay's own counters at
 * collection time: what it forwarded, what it dropped and why (a pair its allow-list does not
 * name, an unauthenticated ping, an unknown source...), and how many nodes and sessions it serves.
 */
export class RelayMetrics {
  constructor(meter: Meter, snapshot: () => Promise<RelayMetricsSnapshot | null>) {
    const packets = meter.createObservableCounter('trellis_relay_forwarded_packets_total', { description: 'WireGuard and disco datagrams the relay forwarded between the pairs it serves' });
    const bytes = meter.createObservableCounter('trellis_relay_forwarded_bytes_total', { description: 'Bytes the relay forwarded (UDP payload)', unit: 'By' });
    const drops = meter.createObservableCounter('trellis_relay_dropped_packets_total', {
      description: 'Datagrams the relay dropped, by reason (notAllowed: a pair it may not serve; unknownSource: no authenticated ping from that address; badMac; stale; ...)',
    });
    const pings = meter.createObservableCounter('trellis_relay_pings_accepted_total', { description: 'Authenticated disco pings the relay accepted (they teach it node addresses)' });
    const writeErrors = meter.createObservableCounter('trellis_relay_write_errors_total', { description: 'Datagrams the kernel refused to send for the relay' });
    const nodes = meter.createObservableGauge('trellis_relay_nodes', { description: 'Nodes with a live address at the relay' });
    const pairs = meter.createObservableGauge('trellis_relay_pairs', { description: 'Node pairs on the relay allow-list' });
    const routes = meter.createObservableGauge('trellis_relay_sessions', { description: 'WireGuard sessions (receiver indexes) the relay forwards by' });
    meter.addBatchObservableCallback(
      async (obs) => {
        const s = await snapshot();
        if (!s) return;
        obs.observe(packets, s.forwardedPackets);
        obs.observe(bytes, s.forwardedBytes);
        obs.observe(pings, s.pingsAccepted);
        obs.observe(writeErrors, s.writeErrors);
        for (const [reason, n] of Object.entries(s.drops)) obs.observe(drops, n, { reason });
        obs.observe(nodes, s.nodes);
        obs.observe(pairs, s.pairs);
        obs.observe(routes, s.routes);
      },
      [packets, bytes, drops, pings, writeErrors, nodes, pairs, routes],
    );
  }
}
