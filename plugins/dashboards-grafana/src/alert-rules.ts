/**
 * Grafana alerting built with the Foundation SDK's alerting builders: one rule per alert condition
 * (A: the ClickHouse query, B: a threshold expression on A), a webhook contact point and a
 * notification policy, rendered in Grafana's file-provisioning format.
 */
import { ContactPointBuilder, NotificationPolicyBuilder, QueryBuilder, RuleBuilder, RuleGroupBuilder, type Rule } from '@grafana/grafana-foundation-sdk/alerting';
import { TypeThresholdBuilder } from '@grafana/grafana-foundation-sdk/expr';
import type { AlertCondition } from './alert-conditions';
import { ClickHouseQueryBuilder } from './clickhouse-query';
import { DATASOURCE_REF, EXPRESSION_DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID } from './datasource';
import type { AlertThresholds } from './thresholds';

export const RULE_GROUP = 'trellis-mesh';
export const CONTACT_POINT = 'trellis-webhook';

const duration = (s: number) => (s % 60 === 0 ? `${s / 60}m` : `${s}s`);

/** buildRule gives the rule in the provisioning API's shape (folderUID, ruleGroup, orgID). */
export function buildRule(c: AlertCondition): Rule {
  return new RuleBuilder(c.title)
    .uid(c.uid)
    .orgID(1)
    .folderUID(FOLDER_UID)
    .ruleGroup(RULE_GROUP)
    .condition('B')
    .withQuery(
      new QueryBuilder('A')
        .datasourceUid(DATASOURCE_REF.uid!)
        .relativeTimeRange({ from: c.windowSeconds, to: 0 })
        .model(new ClickHouseQueryBuilder(DATASOURCE_REF, 'A').table().rawSql(c.sql)),
    )
    .withQuery(
      new QueryBuilder('B')
        .datasourceUid(EXPRESSION_DATASOURCE_UID)
        .relativeTimeRange({ from: c.windowSeconds, to: 0 })
        .model(
          new TypeThresholdBuilder()
            .refId('B')
            .datasource({ type: '__expr__', uid: EXPRESSION_DATASOURCE_UID })
            .expression('A')
            .conditions([{ evaluator: { type: c.op, params: [c.threshold] } }]),
        ),
    )
    .noDataState('OK')
    .execErrState('Error')
    .forDuration(duration(c.forSeconds))
    .labels(c.labels)
    .annotations({ summary: c.summary, threshold: String(c.threshold) })
    .isPaused(false)
    .build();
}

/** fileRule drops the API-only fields; provisioning files name the folder and group on the group. */
function fileRule(r: Rule): Record<string, unknown> {
  return {
    uid: r.uid,
    title: r.title,
    condition: r.condition,
    data: r.data,
    noDataState: r.noDataState,
    execErrState: r.execErrState,
    for: r.for,
    labels: r.labels,
    annotations: r.annotations,
    isPaused: r.isPaused ?? false,
  };
}

/** alertRulesProvisioning is the alert-rules provisioning document (apiVersion 1). */
export function alertRulesProvisioning(conditions: AlertCondition[], t: AlertThresholds): Record<string, unknown> {
  const group = new RuleGroupBuilder(RULE_GROUP)
    .folderUid(FOLDER_UID)
    .interval(t.evaluationIntervalSeconds)
    .rules(conditions.map((c) => ({ build: () => buildRule(c) })))
    .build();
  return {
    apiVersion: 1,
    groups: [
      {
        orgId: 1,
        name: group.title,
        folder: FOLDER_TITLE,
        interval: duration(group.interval ?? t.evaluationIntervalSeconds),
        rules: (group.rules ?? []).map(fileRule),
      },
    ],
  };
}

/** notificationProvisioning is the webhook contact point and the policy routing Trellis alerts to it. */
export function notificationProvisioning(t: AlertThresholds): Record<string, unknown> {
  const cp = new ContactPointBuilder().uid(CONTACT_POINT).name(CONTACT_POINT).type('webhook').settings({ url: t.webhookUrl, httpMethod: 'POST' }).disableResolveMessage(false).build();
  const policy = new NotificationPolicyBuilder()
    .receiver(CONTACT_POINT)
    .groupBy(['grafana_folder', 'alertname'])
    .groupWait('30s')
    .groupInterval('5m')
    .repeatInterval('4h')
    .routes([new NotificationPolicyBuilder().receiver(CONTACT_POINT).objectMatchers([['team', '=', 'trellis']]).groupBy(['alertname', 'severity']).repeatInterval('1h')])
    .build();
  return {
    apiVersion: 1,
    contactPoints: [
      {
        orgId: 1,
        name: cp.name,
        receivers: [{ uid: cp.uid, type: cp.type, settings: cp.settings, disableResolveMessage: cp.disableResolveMessage }],
      },
    ],
    policies: [{ orgId: 1, ...policy }],
  };
}
