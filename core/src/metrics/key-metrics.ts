import type { Counter, Meter } from '@opentelemetry/api';

/** What KeyMetrics observes at each collection: every live node's key age and rotation interval. */
export interface KeyMetricsSnapshot {
  nodes: Array<{ name: string; ageMs: number; intervalMs: number }>;
  /** A key older than its interval by more than this is overdue. */
  graceMs: number;
}

/**
 * KeyMetrics are the controller's key lifecycle instruments: each live node's WireGuard key age
 * and rotation interval, how many keys are overdue (older than interval + grace: the node is away
 * or cannot rotate), and counters of rotations and identity renewals.
 */
export class KeyMetrics {
  private readonly rotations: Counter;
  private readonly renewals: Counter;

  constructor(meter: Meter, snapshot: () => Promise<KeyMetricsSnapshot>) {
    this.rotations = meter.createCounter('trellis_key_rotations_total', { description: 'WireGuard key rotations registered, by reason (scheduled, requested)' });
    this.renewals = meter.createCounter('trellis_identity_renewals_total', { description: 'Node identity credentials renewed' });
    const age = meter.createObservableGauge('trellis_node_key_age_seconds', { description: 'Age of each live node WireGuard key', unit: 's' });
    const interval = meter.createObservableGauge('trellis_node_key_rotation_interval_seconds', { description: 'WireGuard key rotation interval of each live node', unit: 's' });
    const overdue = meter.createObservableGauge('trellis_nodes_key_overdue', { description: 'Live nodes whose WireGuard key is older than its rotation interval plus grace' });
    const oldest = meter.createObservableGauge('trellis_node_key_age_max_seconds', { description: 'Age of the oldest live node WireGuard key', unit: 's' });
    meter.addBatchObservableCallback(
      async (obs) => {
        const s = await snapshot();
        let late = 0;
        let max = 0;
        for (const n of s.nodes) {
          obs.observe(age, n.ageMs / 1000, { node: n.name });
          obs.observe(interval, n.intervalMs / 1000, { node: n.name });
          if (n.ageMs > n.intervalMs + s.graceMs) late++;
          max = Math.max(max, n.ageMs);
        }
        obs.observe(overdue, late);
        obs.observe(oldest, max / 1000);
      },
      [age, interval, overdue, oldest],
    );
  }

  recordRotation(reason: string): void {
    this.rotations.add(1, { reason });
  }

  recordRenewal(): void {
    this.renewals.add(1);
  }
}
