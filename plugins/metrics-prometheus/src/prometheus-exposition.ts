/**
 * PrometheusExposition renders one scrape: prom-client's default Node.js process metrics (heap,
 * event-loop lag, GC, file descriptors, CPU) beside every Trellis instrument (through OtelBridge),
 * each series labelled with the process it comes from: service_name (trellis-agent or
 * trellis-controller) and node, taken from the runtime's OpenTelemetry resource. target_info
 * carries the rest of the resource (service_version).
 */
import type { MetricsAccess, PluginLogger } from '@trellis/core/api';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { prometheusErrors } from './errors';
import { OtelBridge } from './otel-bridge';
import { labelName, labelValue } from './prometheus-names';

export const CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** Resource attributes put on every series, as label names. */
const IDENTITY_LABELS: Record<string, string> = { 'service.name': 'service_name', 'service.instance.id': 'node' };

let processRegistry: Registry | null = null;

/**
 * The event-loop delay is sampled every 100 ms, not prom-client's 10 ms: on an idle agent the 10 ms
 * timer alone cost 0.7 % of a core (100 ms: 0.15 %), a third of the agent's whole telemetry budget.
 * 150 samples per 15 s scrape still give the lag percentiles.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

const MISNAMED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * nodeProcessRegistry is the process-wide registry of prom-client's default metrics. It is made
 * once: the GC and event-loop monitors it starts live as long as the process, so a plugin that is
 * set up again must not start a second set.
 */
export function nodeProcessRegistry(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    // Gauges named *_total (promtool rejects them); each is the sum of its by-type family
    // (nodejs_active_handles{type}, nodejs_active_requests{type}, nodejs_active_resources{type}).
    for (const name of MISNAMED_DEFAULT_METRICS) processRegistry.removeSingleMetric(name);
  }
  return processRegistry;
}

export class PrometheusExposition {
  private readonly bridge: OtelBridge;
  private readonly info = new Registry();
  private infoGauge: Gauge<string> | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly metrics: MetricsAccess,
    log?: PluginLogger,
  ) {
    const reserved = new Set(nodeProcessRegistry().getMetricsAsArray().map((m) => m.name));
    reserved.add('target_info');
    this.bridge = new OtelBridge({ reserved: () => reserved, warn: (message) => log?.warn(message) });
  }

  /** render collects once and returns the text exposition; scrapes arriving together take turns. */
  render(): Promise<string> {
    const next = this.queue.then(() => this.renderNow());
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async renderNow(): Promise<string> {
    const { resourceMetrics, errors } = await this.metrics.collect();
    if (errors.length > 0) throw prometheusErrors.collectFailed(errors[0] instanceof Error ? errors[0].message : String(errors[0]));
    this.bridge.update(resourceMetrics);
    const attributes = resourceMetrics.resource.attributes;
    const identity: Record<string, string> = {};
    const rest: Record<string, string> = {};
    for (const [key, v] of Object.entries(attributes)) {
      if (v === undefined || v === null) continue;
      if (key in IDENTITY_LABELS) identity[IDENTITY_LABELS[key]!] = labelValue(v);
      else rest[labelName(key)] = labelValue(v);
    }
    if (!this.infoGauge) {
      this.infoGauge = new Gauge({ name: 'target_info', help: 'Target metadata: the OpenTelemetry resource of this process', labelNames: Object.keys(rest), registers: [this.info] });
    }
    this.infoGauge.reset();
    this.infoGauge.set(rest, 1);
    const merged = Registry.merge([nodeProcessRegistry(), this.info, this.bridge.registry]);
    merged.setDefaultLabels(identity);
    return merged.metrics();
  }
}
