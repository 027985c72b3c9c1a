/**
 * metrics-prometheus: serves /metrics on agents and on the controller, each on its own port, with
 * prom-client: its Node.js process metrics plus every OpenTelemetry instrument of the runtime
 * (core's and plugins'), bridged from one collection per scrape.
 */
export { metricsPrometheusPlugin, metricsPrometheusPlugin as default, configSchema, DEFAULT_LISTEN, metricsAddress } from './plugin';
export type { MetricsPrometheusConfig } from './plugin';
export { MetricsServer, renderMetrics, parseListen } from './metrics-server';
export { PrometheusExposition, nodeProcessRegistry, CONTENT_TYPE } from './prometheus-exposition';
export { OtelBridge } from './otel-bridge';
export type { OtelBridgeOptions } from './otel-bridge';
export { metricName, labelName, unitWord } from './prometheus-names';
export { PrometheusErrorCode, prometheusErrors } from './errors';
