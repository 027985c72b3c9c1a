import type { Meter } from '@opentelemetry/api';

/** What RouteMetrics observes at each collection (controller/route-table.ts). */
export interface RouteMetricsSnapshot {
  byStatus: Record<'pending' | 'approved' | 'rejected', number>;
  /** Subnet prefixes with an approved, live gateway. */
  prefixes: number;
  /** Of those, prefixes none of whose gateways is healthy (stream open and check answering). */
  unhealthyPrefixes: number;
  /** Times a prefix moved to another gateway since the controller started. */
  failovers: number;
  /** Each approved gateway of a subnet: healthy (1/0) and primary (1/0). */
  gateways: Array<{ prefix: string; gateway: string; healthy: boolean; primary: boolean }>;
}

/**
 * RouteMetrics are the controller's route instruments: advertised routes by status, subnet
 * prefixes without a healthy gateway (alert TrellisRouteNoHealthyGateway), gateway failovers, and
 * each gateway's health and primary flag per prefix.
 */
export class RouteMetrics {
  constructor(meter: Meter, snapshot: () => RouteMetricsSnapshot) {
    const routes = meter.createObservableGauge('trellis_routes', { description: 'Advertised routes by status (pending, approved, rejected)' });
    const prefixes = meter.createObservableGauge('trellis_route_prefixes', { description: 'Subnet prefixes with an approved, live gateway' });
    const unhealthy = meter.createObservableGauge('trellis_route_prefixes_unhealthy', { description: 'Subnet prefixes none of whose gateways is healthy (map stream open and route check answering)' });
    const failovers = meter.createObservableCounter('trellis_route_failovers_total', { description: 'Times a subnet prefix moved to another gateway' });
    const healthy = meter.createObservableGauge('trellis_route_gateway_healthy', { description: 'Whether a gateway of a subnet prefix is healthy (1) or not (0)' });
    const primary = meter.createObservableGauge('trellis_route_gateway_primary', { description: 'Whether a gateway is the one peers use for a subnet prefix (1) or a standby (0)' });
    meter.addBatchObservableCallback(
      (obs) => {
        const s = snapshot();
        for (const status of ['pending', 'approved', 'rejected'] as const) obs.observe(routes, s.byStatus[status], { status });
        obs.observe(prefixes, s.prefixes);
        obs.observe(unhealthy, s.unhealthyPrefixes);
        obs.observe(failovers, s.failovers);
        for (const g of s.gateways) {
          obs.observe(healthy, g.healthy ? 1 : 0, { prefix: g.prefix, gateway: g.gateway });
          obs.observe(primary, g.primary ? 1 : 0, { prefix: g.prefix, gateway: g.gateway });
        }
      },
      [routes, prefixes, unhealthy, failovers, healthy, primary],
    );
  }
}
