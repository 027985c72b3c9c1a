/**
 * metrics-otlp: pushes the runtime's OpenTelemetry metrics (core instruments and plugins') to an
 * OpenTelemetry collector over OTLP/HTTP, on agents and on the controller.
 */
export { metricsOtlpPlugin, metricsOtlpPlugin as default, configSchema, otlpPush, DEFAULT_INTERVAL_MS, DEFAULT_TIMEOUT_MS } from './plugin';
export type { MetricsOtlpConfig } from './plugin';
export { OtlpPush, parseOtlpUrl } from './otlp-push';
export type { OtlpPushOptions } from './otlp-push';
export { OtlpErrorCode, otlpErrors } from './errors';
