import type { Counter, Histogram, Meter } from '@opentelemetry/api';

export interface ControllerMetricsSnapshot {
  nodes: number;
  nodesOnline: number;
  streamClients: number;
  rebuilds: number;
}

const LATENCY_BUCKETS_MS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/** ControllerMetrics are the controller's instruments: nodes, streams, map builds, API latency, telemetry intake. */
export class ControllerMetrics {
  private readonly buildTime: Histogram;
  private readonly apiLatency: Histogram;
  private readonly batches: Counter;
  private readonly rows: Counter;

  constructor(meter: Meter, snapshot: () => Promise<ControllerMetricsSnapshot> | ControllerMetricsSnapshot) {
    this.buildTime = meter.createHistogram('trellis_map_build_time', {
      description: 'Time to build every node NetworkMap in one rebuild',
      unit: 'ms',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS },
    });
    this.apiLatency = meter.createHistogram('trellis_api_latency', {
      description: 'Controller HTTP request latency by route, method and status',
      unit: 'ms',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS },
    });
    this.batches = meter.createCounter('trellis_telemetry_batches', { description: 'Telemetry batches received (duplicate: a retry already accepted)' });
    this.rows = meter.createCounter('trellis_telemetry_rows', { description: 'Telemetry rows accepted by kind' });
    const nodes = meter.createObservableGauge('trellis_nodes', { description: 'Live (not revoked or expired) nodes' });
    const online = meter.createObservableGauge('trellis_nodes_online', { description: 'Nodes holding an open map stream' });
    const streams = meter.createObservableGauge('trellis_stream_clients', { description: 'Open map streams' });
    const rebuilds = meter.createObservableGauge('trellis_map_rebuilds', { description: 'Map rebuilds since start' });
    meter.addBatchObservableCallback(
      async (obs) => {
        const s = await snapshot();
        obs.observe(nodes, s.nodes);
        obs.observe(online, s.nodesOnline);
        obs.observe(streams, s.streamClients);
        obs.observe(rebuilds, s.rebuilds);
      },
      [nodes, online, streams, rebuilds],
    );
  }

  recordBuild(ms: number): void {
    this.buildTime.record(ms);
  }

  recordRequest(route: string, method: string, status: number, ms: number): void {
    this.apiLatency.record(ms, { route, method, status: String(status) });
  }

  recordTelemetry(counts: { probes: number; tunnels: number; shaping: number }, duplicate: boolean): void {
    this.batches.add(1, { duplicate: String(duplicate) });
    if (duplicate) return;
    for (const [kind, n] of Object.entries(counts)) if (n > 0) this.rows.add(n, { kind });
  }
}
