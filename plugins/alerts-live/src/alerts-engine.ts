import type { NodeEvent, PluginLogger, TelemetryBatch } from '@trellis/core/api';
import type { AlertThresholds } from '@trellis/plugin-dashboards-grafana';
import { AlertStateMachine, type ActiveAlert, type AlertEvent, type ResolvedAlert } from './alert-state';
import { redactUrl, type AlertsLiveConfig } from './config';
import { DeliveryLog, type DeliveryAttempt } from './delivery-log';
import { LiveInputs } from './live-inputs';
import { evaluateRules } from './rules';
import { WebhookNotifier } from './webhook-notifier';

/** What GET /v1/admin/alerts answers. */
export interface AlertsView {
  at: number;
  evaluatedAt: number | null;
  evaluateEverySeconds: number;
  active: ActiveAlert[];
  recent: ResolvedAlert[];
  deliveries: DeliveryAttempt[];
  webhooks: string[];
  thresholds: AlertThresholds;
}

export interface AlertsEngineOptions {
  config: AlertsLiveConfig;
  /** The JSON-lines delivery log; null keeps it in memory only. */
  deliveryFile: string | null;
  clock?: () => number;
  logger?: PluginLogger;
}

/**
 * AlertsEngine ties the pieces together: hooks feed LiveInputs, evaluate() runs the rules and the
 * state machine, and each firing/resolved event goes to the WebhookNotifier.
 */
export class AlertsEngine {
  readonly inputs: LiveInputs;
  readonly state: AlertStateMachine;
  readonly deliveries: DeliveryLog;
  readonly notifier: WebhookNotifier;
  private evaluatedAt: number | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly o: AlertsEngineOptions) {
    const t = o.config.thresholds;
    const keepS = Math.max(t.lossWindowSeconds, t.rttWindowSeconds, t.jitterWindowSeconds, t.shapingWindowSeconds);
    this.inputs = new LiveInputs(keepS * 1000 + 5_000);
    this.state = new AlertStateMachine(o.config.historyLimit);
    this.deliveries = new DeliveryLog(o.deliveryFile, o.config.historyLimit, (err) => o.logger?.error({ err: err.message }, 'alerts-live: could not append to the delivery log file'));
    this.notifier = new WebhookNotifier({ webhooks: o.config.webhooks, retry: o.config.retry, log: this.deliveries, ...(o.logger ? { logger: o.logger } : {}), ...(o.clock ? { clock: o.clock } : {}) });
  }

  private now(): number {
    return (this.o.clock ?? Date.now)();
  }

  onTelemetry(batch: TelemetryBatch): void {
    this.inputs.addBatch(batch, this.now());
  }

  onNodeEvent(ev: NodeEvent): void {
    this.inputs.nodeEvent(ev, this.now());
  }

  /** evaluate runs every rule once and notifies the webhooks of each transition. */
  evaluate(): AlertEvent[] {
    const now = this.now();
    this.inputs.prune(now);
    const events = this.state.update(evaluateRules(this.inputs, this.o.config.thresholds, now), now);
    this.evaluatedAt = now;
    for (const e of events) {
      this.o.logger?.info({ status: e.status, uid: e.alert.uid, labels: e.alert.labels, value: e.alert.value }, `alert ${e.status}`);
      this.notifier.notify(e);
    }
    return events;
  }

  start(): void {
    this.timer = setInterval(() => {
      try {
        this.evaluate();
      } catch (err) {
        this.o.logger?.error({ err: (err as Error).message }, 'alerts-live: evaluation failed');
      }
    }, this.o.config.evaluateEverySeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.notifier.close();
  }

  view(limit = 100): AlertsView {
    return {
      at: this.now(),
      evaluatedAt: this.evaluatedAt,
      evaluateEverySeconds: this.o.config.evaluateEverySeconds,
      active: this.state.activeAlerts(),
      recent: this.state.recent(limit),
      deliveries: this.deliveries.list(limit),
      webhooks: this.o.config.webhooks.map((w) => redactUrl(w.url)),
      thresholds: this.o.config.thresholds,
    };
  }
}
