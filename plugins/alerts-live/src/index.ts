/**
 * alerts-live: the controller evaluates the Grafana alert conditions on live data (probe, tunnel
 * and shaping rows from onTelemetry; presence and posture from onNodeEvent), with the same
 * thresholds object as the dashboards, and notifies webhooks of firing and resolved alerts.
 */
export { alertsLivePlugin, alertsLivePlugin as default, createAlertsLivePlugin, ALERTS_ROUTE, DELIVERY_LOG_FILE } from './plugin';
export type { AlertsLivePluginOptions } from './plugin';
export { AlertsEngine } from './alerts-engine';
export type { AlertsEngineOptions, AlertsView } from './alerts-engine';
export { AlertStateMachine, instanceKey } from './alert-state';
export type { ActiveAlert, AlertEvent, ResolvedAlert, WebhookAlert } from './alert-state';
export { configSchema, resolveAlertsConfig, redactUrl, RETRY_DEFAULTS } from './config';
export type { AlertsLiveConfig, AlertsLiveConfigInput, RetryPolicy, WebhookTarget } from './config';
export { DeliveryLog } from './delivery-log';
export type { DeliveryAttempt } from './delivery-log';
export { LiveInputs } from './live-inputs';
export type { NodeState, PathSamples, ProbeSample, ShapingSeries } from './live-inputs';
export { evaluateRules, isRealtime, NEVER, RULES } from './rules';
export type { Observation } from './rules';
export { WebhookNotifier, backoffMs } from './webhook-notifier';
export type { WebhookNotifierOptions } from './webhook-notifier';
export { AlertsErrorCode, alertsErrors } from './errors';
