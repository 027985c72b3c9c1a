/**
 * metrics: core's OpenTelemetry instruments and the MeterProvider they record into. Core code
 * records through @opentelemetry/api; one pull reader lets exporters (the metrics-prometheus
 * plugin, tests) collect on demand, so nothing is computed for series nobody reads.
 */
import { metrics, type Meter } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type CollectionResult } from '@opentelemetry/sdk-metrics';

/** PullMetricReader is collected on demand (a /metrics scrape) and pushes nothing itself. */
export class PullMetricReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** TrellisMetrics owns one runtime's MeterProvider (agent or controller). */
export class TrellisMetrics {
  readonly provider: MeterProvider;
  private readonly reader = new PullMetricReader();

  constructor(readonly side: 'agent' | 'controller') {
    this.provider = new MeterProvider({ readers: [this.reader] });
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
