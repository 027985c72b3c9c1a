/**
 * OtlpPush sends the runtime's metrics to an OpenTelemetry collector over OTLP/HTTP (JSON) every
 * intervalMs. It reads through MetricsAccess.collect() (the same pull reader Prometheus scrapes),
 * so it needs no second MeterProvider reader, and core does not know it exists.
 */
import type { MetricsAccess, PluginLogger } from '@trellis/core/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { otlpErrors } from './errors';

export interface OtlpPushOptions {
  /** Full OTLP/HTTP metrics URL, e.g. http://127.0.0.1:4318/v1/metrics. */
  url: string;
  intervalMs: number;
  headers?: Record<string, string>;
  timeoutMs: number;
}

/** parseOtlpUrl accepts only absolute http(s) URLs; anything else is a config error naming the value. */
export function parseOtlpUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw otlpErrors.configInvalid('url', `"${url}" is not a URL; use e.g. http://127.0.0.1:4318/v1/metrics`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw otlpErrors.configInvalid('url', `"${url}" must be http:// or https:// (OTLP/HTTP; gRPC is not supported)`);
  }
  return u;
}

export class OtlpPush {
  private readonly exporter: OTLPMetricExporter;
  private timer: NodeJS.Timeout | null = null;
  private inflight: Promise<void> | null = null;
  private failing = false;
  private exports = 0;

  constructor(
    private readonly metrics: MetricsAccess,
    private readonly o: OtlpPushOptions,
    private readonly log?: PluginLogger,
  ) {
    parseOtlpUrl(o.url);
    this.exporter = new OTLPMetricExporter({ url: o.url, headers: o.headers ?? {}, timeoutMillis: o.timeoutMs });
  }

  /** exportOnce collects now and sends; rejects with EXPORT_FAILED naming the URL and the cause. */
  async exportOnce(): Promise<void> {
    const { resourceMetrics, errors } = await this.metrics.collect();
    if (errors.length > 0) this.log?.warn({ err: String(errors[0]) }, 'some metrics could not be collected; exporting the rest');
    const result = await new Promise<{ code: number; error?: Error }>((resolve) => this.exporter.export(resourceMetrics, resolve));
    if (result.code !== 0) throw otlpErrors.exportFailed(this.o.url, result.error?.message ?? 'unknown error');
    this.exports++;
  }

  /** start pushes every intervalMs; a failed push is logged once per outage, and the next one retries. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.o.intervalMs);
    this.timer.unref();
  }

  /** Successful exports so far. */
  get exported(): number {
    return this.exports;
  }

  /** stop sends a last export (best effort, unless final is false) and closes the exporter. */
  async stop(final = true): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.inflight;
    if (final) await this.exportOnce().catch(() => undefined);
    await this.exporter.shutdown().catch(() => undefined);
  }

  private async tick(): Promise<void> {
    if (this.inflight) return; // a slow collector does not stack exports
    this.inflight = this.exportOnce().then(
      () => {
        if (this.failing) this.log?.info({ url: this.o.url }, 'OTLP export works again');
        this.failing = false;
      },
      (err: Error) => {
        if (!this.failing) this.log?.warn({ url: this.o.url, err: err.message }, 'OTLP export failed; retrying every interval');
        this.failing = true;
      },
    );
    await this.inflight;
    this.inflight = null;
  }
}
