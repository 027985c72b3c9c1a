/**
 * metrics-prometheus: serves the runtime's OpenTelemetry metrics (core instruments and plugins')
 * as Prometheus text at /metrics, on agents and on the controller, each on its own port.
 */
export { metricsPrometheusPlugin, metricsPrometheusPlugin as default, configSchema, DEFAULT_LISTEN, metricsAddress } from './plugin';
export type { MetricsPrometheusConfig } from './plugin';
export { MetricsServer, renderMetrics, parseListen, CONTENT_TYPE } from './metrics-server';
