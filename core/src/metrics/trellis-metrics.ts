/**
 * metrics: core's OpenTelemetry instruments and the MeterProvider they record into. Core code
 * records through @opentelemetry/api; one pull reader lets exporters (the metrics-prometheus
 * plugin, metrics-otlp, tests) collect on demand, so nothing is computed for series nobody reads.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { metrics, type Meter } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, InstrumentType, MeterProvider, MetricReader, type CollectionResult } from '@opentelemetry/sdk-metrics';

/**
 * PullMetricReader is collected on demand (a /metrics scrape, an OTLP push) and pushes nothing
 * itself. Sums and histograms are cumulative, as Prometheus wants them. Observable gauges are read
 * with delta temporality, which for a gauge means "what the callback observed this time": with
 * cumulative temporality the SDK would keep serving the last value of a peer that has left the
 * mesh (or of per-peer series after the switch to aggregates) for the life of the process.
 */
export class PullMetricReader extends MetricReader {
  constructor() {
    super({
      aggregationTemporalitySelector: (t) => (t === InstrumentType.OBSERVABLE_GAUGE ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE),
    });
  }

  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** The OpenTelemetry service.name of each runtime; Prometheus shows it as service_name. */
export const SERVICE_NAMES = { agent: 'trellis-agent', controller: 'trellis-controller' } as const;

export interface TrellisMetricsOptions {
  /**
   * The node this runtime is (service.instance.id, the `node` label in Prometheus): the agent's
   * node name; the controller's host name when not given.
   */
  node?: string;
}

/** coreVersion reads @trellis/core's package.json (core/package.json from src/metrics or dist/metrics). */
export function coreVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * TrellisMetrics owns one runtime's MeterProvider (agent or controller). Its resource says which
 * process this is (service.name trellis-agent or trellis-controller, service.instance.id the node),
 * so every exporter can tell targets apart without its own configuration.
 */
export class TrellisMetrics {
  readonly provider: MeterProvider;
  private readonly reader = new PullMetricReader();

  constructor(
    readonly side: 'agent' | 'controller',
    opts: TrellisMetricsOptions = {},
  ) {
    const resource = resourceFromAttributes({
      'service.name': SERVICE_NAMES[side],
      'service.version': coreVersion(),
      'service.instance.id': opts.node ?? hostname(),
    });
    this.provider = new MeterProvider({ resource, readers: [this.reader] });
    // The first runtime of a process also becomes the global provider, so plugins' meters land here.
    metrics.setGlobalMeterProvider(this.provider);
  }

  meter(name: string): Meter {
    return this.provider.getMeter(name);
  }

  /** collect gathers every instrument now (observable callbacks run). */
  collect(): Promise<CollectionResult> {
    return this.reader.collect();
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown().catch(() => undefined);
  }
}
