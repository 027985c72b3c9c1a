/**
 * metrics: core's OpenTelemetry instruments (agent and controller) and the provider they record into.
 */
export { TrellisMetrics, PullMetricReader, SERVICE_NAMES } from './trellis-metrics';
export type { TrellisMetricsOptions } from './trellis-metrics';
export { AgentMetrics } from './agent-metrics';
export type { AgentMetricsOptions, AgentMetricsSnapshot, DeviceMetricsSnapshot, ExitMetricsSnapshot, PeerMetricsSnapshot } from './agent-metrics';
export { ControllerMetrics } from './controller-metrics';
export type { ControllerMetricsSnapshot } from './controller-metrics';
export { AGGREGATE_PEER, DEFAULT_MAX_PEER_SERIES, minAvgMax } from './peer-aggregation';
export type { MinAvgMax } from './peer-aggregation';
