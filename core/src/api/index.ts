/**
 * api: the public plugin API. Plugins import only this module: types, definePlugin and error codes.
 */
export { definePlugin, PLUGIN_API_VERSION } from './plugin';
export type {
  AdminRouteHandler,
  AdminRouteRequest,
  AgentAccess,
  ControllerAccess,
  ControllerFetchResult,
  JsonSchema,
  MetricsAccess,
  PluginContext,
  PluginHooks,
  PluginLogger,
  PluginManifest,
  TrellisPlugin,
} from './plugin';
export { LAB_SERVICE_NAMES } from './lab-wiring';
export type { LabServiceName, LabServices, LabWiring } from './lab-wiring';
export { HOOK_KINDS, REMOVED_HOOKS } from './hooks';
export type { AuditRecordEvent, Facts, HookKind, HookName, HookSignatures, HooksOfKind, NodeEvent, PeerProbeStats, PeerStatsSample } from './hooks';
export type { NodeInfo, PostureDecision } from './node-info';
export type { AccessDecision, AccessDecisionRequest, AccessGrant, NodeGrants } from './access';
export type { RouteApproval, RouteApprovalRequest, TopologyConfig, TopologyDecision, TopologyMode } from './routes';
export type {
  AccessAnswer,
  AccessPrincipal,
  AccessQuestion,
  ActivePolicy,
  ControllerPolicyAccess,
  PolicyEngine,
  PolicySource,
  PreparedPolicy,
} from './policy';
export type {
  AggregationTemporalityValue,
  ExponentialHistogramValue,
  HistogramValue,
  MetricData,
  MetricDataPoint,
  MetricDescriptor,
  MetricsCollection,
  MetricsResource,
  ResourceMetrics,
  ScopeMetrics,
} from './metrics';
export type { AlertsSource, LiveAlert, LiveAlerts } from './live-alerts';
export type { PathHistoryPoint, PathHistorySeries, PathHistorySource } from './path-history';
export type { StatusPlace, StatusText, StatusTextContext, StatusTextSource } from './status-text';
export type { PluginTelemetryRow, ProbeRow, TelemetryBatch, TelemetryContribution, TunnelRow } from './telemetry';
export { PluginErrorCode, SkipPlugin, TrellisError } from './errors';
export { canonicalJson, sortKeysDeep } from '../json';
export { formatBytes, renderTable } from '../text';
export { fetchFailureReason } from '../sys/fetch-failure';
export { findUpward } from '../sys/find-upward';
export { resolveOpaBinary as findOpaBinary } from '../sys/opa-binary';
export type { OpaLookup } from '../sys/opa-binary';
export { comparePrefixes, formatIp, formatPrefix, parseIp, parsePrefix, prefixContains, prefixesOverlap } from '../net';
export type { IpAddress, IpFamily, IpPrefix, MappedStyle, PrefixFormat } from '../net';
export type { DeepReadonly, FilterRule, NetworkMap, NetworkMapData, PeerNode, Route, RouteKind, SelfNode } from '../netmap/types';
export type { WgConfig, WgPeerConfig, WgPeerStats } from '../wg/types';
