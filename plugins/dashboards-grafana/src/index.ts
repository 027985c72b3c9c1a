/**
 * dashboards-grafana: Grafana dashboards and alert rules for the telemetry-clickhouse schema,
 * generated with the Grafana Foundation SDK (pinned 11.6.0-cogv0.0.x.1769699379, Grafana 11.6
 * schemas), plus the macro expander and alert conditions the controller can evaluate live.
 */
export { generate, writeGenerated, managedFiles, MANAGED_DIRS, MANAGED_FILES } from './generate';
export type { GenerateOptions, Generated, WriteResult } from './generate';
export { alertConditions } from './alert-conditions';
export type { AlertCondition } from './alert-conditions';
export { alertRulesProvisioning, notificationProvisioning, buildRule, RULE_GROUP, CONTACT_POINT } from './alert-rules';
export { expandMacros, interpolateVariables } from './macros';
export { prometheusRules, prometheusRulesYaml, recordingRules, alertingRules, promDuration, PROMETHEUS_RULES_FILE, RECORDED, RECORDING_GROUP, ALERTING_GROUP } from './prometheus-rules';
export type { PrometheusRuleGroup, PrometheusRecordingRule, PrometheusAlertingRule } from './prometheus-rules';
export type { MacroContext } from './macros';
export { TelemetrySql } from './telemetry-sql';
export type { TelemetrySqlOptions } from './telemetry-sql';
export { DEFAULT_THRESHOLDS, loadThresholds, resolveThresholds, rttLimitMs } from './thresholds';
export type { AlertThresholds } from './thresholds';
export { ClickHouseQueryBuilder, CLICKHOUSE_DATASOURCE_TYPE } from './clickhouse-query';
export type { ClickHouseQuery } from './clickhouse-query';
export { DATASOURCE_REF, DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID, PROMETHEUS_DATASOURCE_REF, PROMETHEUS_DATASOURCE_UID, datasourceProvisioning, dashboardsProvisioning, prometheusDatasourceProvisioning } from './datasource';
export type { PanelQuery, PromPanelQuery } from './panel-factory';
export { DASHBOARD_UIDS } from './dashboards/dashboard-context';
export type { BuiltDashboard } from './dashboards/dashboard-context';
export { DashboardsErrorCode, dashboardsErrors } from './errors';
export { stableJson } from './stable-json';
