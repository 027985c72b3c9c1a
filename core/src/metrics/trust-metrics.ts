import type { Counter, Meter } from '@opentelemetry/api';

export interface TrustMetricsSnapshot {
  /** Sources with failed authentications in their current window. */
  failureSources: number;
  /** The most failures one source made in its current window. */
  maxFailuresPerSource: number;
  /** Sources refused (429) on every route until their window ends. */
  blockedSources: number;
  /** Map streams closed because a newer stream of the same node arrived. */
  streamsReplaced: number;
  /** Newest audit entry's seq. */
  auditEntries: number;
  /** Audit entries after the newest signed checkpoint. */
  auditUnsigned: number;
  /** Seconds since the newest checkpoint; null without one. */
  auditCheckpointAgeS: number | null;
  /** Entries handed to audit exporters and the file sink. */
  auditExported: number;
}

/**
 * TrustMetrics are the controller's abuse and audit instruments: failed authentications and
 * refused requests by route, the worst source's failures in its window (the alert on bursts per
 * source reads it), connection events reported by agents, replaced map streams and the audit
 * chain's size and signing lag.
 */
export class TrustMetrics {
  private readonly failures: Counter;
  private readonly limited: Counter;
  private readonly connEvents: Counter;

  constructor(meter: Meter, snapshot: () => Promise<TrustMetricsSnapshot>) {
    this.failures = meter.createCounter('trellis_auth_failures_total', { description: 'Failed authentications by route and error code' });
    this.limited = meter.createCounter('trellis_rate_limited_total', { description: 'Requests refused with 429 (rate limit or a source blocked after failed authentications) by route' });
    this.connEvents = meter.createCounter('trellis_connection_events_total', { description: 'Connection events reported by agents (tunnel up/down, path and relay switches, quarantine) by kind' });
    const sources = meter.createObservableGauge('trellis_auth_failure_sources', { description: 'Source addresses with failed authentications in their current window' });
    const worst = meter.createObservableGauge('trellis_auth_failures_max_per_source', { description: 'Most failed authentications by one source address in its current window' });
    const blocked = meter.createObservableGauge('trellis_auth_blocked_sources', { description: 'Source addresses refused on every route until their failure window ends' });
    const replaced = meter.createObservableCounter('trellis_map_streams_replaced_total', { description: 'Map streams closed because a newer stream of the same node arrived' });
    const entries = meter.createObservableGauge('trellis_audit_entries', { description: 'Entries in the audit log (the newest seq)' });
    const unsigned = meter.createObservableGauge('trellis_audit_unsigned_entries', { description: 'Audit entries after the newest signed checkpoint' });
    const age = meter.createObservableGauge('trellis_audit_checkpoint_age_seconds', { description: 'Seconds since the newest signed audit checkpoint', unit: 's' });
    const exported = meter.createObservableCounter('trellis_audit_exported_total', { description: 'Audit entries handed to exporters and the JSON-lines file' });
    meter.addBatchObservableCallback(
      async (obs) => {
        const s = await snapshot();
        obs.observe(sources, s.failureSources);
        obs.observe(worst, s.maxFailuresPerSource);
        obs.observe(blocked, s.blockedSources);
        obs.observe(replaced, s.streamsReplaced);
        obs.observe(entries, s.auditEntries);
        obs.observe(unsigned, s.auditUnsigned);
        if (s.auditCheckpointAgeS !== null) obs.observe(age, s.auditCheckpointAgeS);
        obs.observe(exported, s.auditExported);
      },
      [sources, worst, blocked, replaced, entries, unsigned, age, exported],
    );
  }

  recordFailure(route: string, code: string): void {
    this.failures.add(1, { route, code });
  }

  recordRateLimited(route: string): void {
    this.limited.add(1, { route });
  }

  recordConnectionEvents(kinds: readonly string[]): void {
    for (const kind of kinds) this.connEvents.add(1, { kind });
  }
}
