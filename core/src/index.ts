/**
 * @trellis/core: the runtime. Plugins import only `@trellis/core/api`; this entry is for
 * embedding the controller and agent (tests, the lab, benchmarks).
 */
export { definePlugin, PLUGIN_API_VERSION, SkipPlugin, TrellisError } from './api';
export { ErrorCode, errors } from './errors';
export { loadPluginHost, PluginHost } from './plugins/plugin-host';
export type { HookRunner } from './plugins/hook-runner';
export { noHooks } from './plugins/hook-runner';
export { diffMaps, applyMapResponse } from './netmap/delta';
export type { MapResponse, NetworkMap, NetworkMapData } from './netmap/types';
export { AgentMetrics, ControllerMetrics, TrellisMetrics, AGGREGATE_PEER, DEFAULT_MAX_PEER_SERIES } from './metrics';
export type { AgentMetricsSnapshot, ControllerMetricsSnapshot, PeerMetricsSnapshot } from './metrics';
export { AgentTelemetry, DEFAULT_TELEMETRY_OPTIONS, resolveTelemetryOptions } from './agent/telemetry/agent-telemetry';
export type { TelemetryOptions } from './agent/telemetry/agent-telemetry';
export { TelemetryBuffer } from './agent/telemetry/telemetry-buffer';
export { SeqEpoch } from './agent/telemetry/seq-epoch';
export { LiveTelemetry } from './controller/live-telemetry';
export type { LivePath } from './controller/live-telemetry';
