import type { Counter, Meter } from '@opentelemetry/api';

/**
 * StunMetrics count the controller's STUN binding service by listener and outcome: answered,
 * rejected (an error response: unknown method or attribute, bad attribute size), malformed
 * (dropped: not a valid STUN message) and ignored (indications, responses).
 */
export class StunMetrics {
  private readonly requests: Counter;

  constructor(meter: Meter) {
    this.requests = meter.createCounter('trellis_stun_requests_total', {
      description: 'Datagrams the controller STUN binding service received, by listener (host:port) and outcome (answered, rejected, malformed, ignored)',
    });
  }

  record(listener: string, outcome: string): void {
    this.requests.add(1, { listener, outcome });
  }
}
