import type { Counter, Histogram, Meter } from '@opentelemetry/api';

export interface ControllerMetricsSnapshot {
  nodes: number;
  nodesOnline: number;
  streamClients: number;
  rebuilds: number;
}

/** Map build and API request duration buckets, seconds: 0.5 ms to 5 s. */
export const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * ControllerMetrics are the controller's instruments: nodes, streams, map builds, API request
 * durations, telemetry intake. Names follow the Prometheus conventions (base units in the name,
 * `_total` on counters), so every exporter shows the same names.
 */
export class ControllerMetrics {
  private readonly buildTime: Histogram;
  private readonly changeTime: Histogram;
  private readonly fanoutTime: Histogram;
  private readonly apiLatency: Histogram;
  private readonly batches: Counter;
  private readonly rows: Counter;

  constructor(meter: Meter, snapshot: () => Promise<ControllerMetricsSnapshot> | ControllerMetricsSnapshot) {
    this.buildTime = meter.createHistogram('trellis_map_build_duration_seconds', {
      description: 'Time to build every node NetworkMap in one rebuild',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_S },
    });
    this.changeTime = meter.createHistogram('trellis_map_change_duration_seconds', {
      description: 'Time to apply a batch of node changes incrementally (only what the changed nodes affect), deltas included',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_S },
    });
    this.fanoutTime = meter.createHistogram('trellis_map_fanout_duration_seconds', {
      description: 'Time from the start of a map batch until its last response was handed to the streams (apply and send to every open stream)',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_S },
    });
    this.apiLatency = meter.createHistogram('trellis_api_request_duration_seconds', {
      description: 'Controller HTTP request duration by route, method and status',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_S },
    });
    this.batches = meter.createCounter('trellis_telemetry_batches_total', { description: 'Telemetry batches received (duplicate: a retry already accepted)' });
    this.rows = meter.createCounter('trellis_telemetry_rows_total', { description: 'Telemetry rows accepted by kind' });
    const nodes = meter.createObservableGauge('trellis_nodes', { description: 'Live (not revoked or expired) nodes' });
    const online = meter.createObservableGauge('trellis_nodes_online', { description: 'Nodes holding an open map stream' });
    const streams = meter.createObservableGauge('trellis_stream_clients', { description: 'Open map streams' });
    const rebuilds = meter.createObservableCounter('trellis_map_rebuilds_total', { description: 'Map rebuilds since the controller started' });
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

  /** recordBuild records one whole-mesh map build that took ms milliseconds. */
  recordBuild(ms: number): void {
    this.buildTime.record(ms / 1000);
  }

  /** recordChange records one batch of node changes applied incrementally that took ms milliseconds. */
  recordChange(ms: number): void {
    this.changeTime.record(ms / 1000);
  }

  /** recordFanout records one map batch that reached every open stream ms milliseconds after it started. */
  recordFanout(ms: number): void {
    this.fanoutTime.record(ms / 1000);
  }

  /** recordRequest records one answered HTTP request that took ms milliseconds. */
  recordRequest(route: string, method: string, status: number, ms: number): void {
    this.apiLatency.record(ms / 1000, { route, method, status: String(status) });
  }

  recordTelemetry(counts: Readonly<Record<string, number>>, duplicate: boolean): void {
    this.batches.add(1, { duplicate: String(duplicate) });
    if (duplicate) return;
    for (const [kind, n] of Object.entries(counts)) if (n > 0) this.rows.add(n, { kind });
  }
}
