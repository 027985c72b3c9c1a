import { join } from 'node:path';
import { definePlugin, SkipPlugin, type TrellisPlugin } from '@trellis/core/api';
import { AlertsEngine } from './alerts-engine';
import { configSchema, resolveAlertsConfig, type AlertsLiveConfigInput } from './config';

/** Where a controller without the live-alerts extension point serves this plugin's alerts. */
export const ALERTS_ROUTE = '/v1/admin/alerts';
/** The delivery log, relative to the controller's data dir. */
export const DELIVERY_LOG_FILE = join('alerts-live', 'deliveries.jsonl');

export interface AlertsLivePluginOptions {
  /** Clock for tests; default Date.now. */
  clock?: () => number;
  /** Called with the engine after setup (tests drive evaluate() directly). */
  onEngine?: (engine: AlertsEngine) => void;
}

/**
 * createAlertsLivePlugin makes one instance of the plugin. Bad thresholds or webhooks throw in
 * setup, which the plugin host logs as a setup failure and disables this plugin (the controller
 * keeps running without live alerts); a config that breaks the JSON schema stops the controller.
 */
export function createAlertsLivePlugin(opts: AlertsLivePluginOptions = {}): TrellisPlugin<AlertsLiveConfigInput> {
  let engine: AlertsEngine | null = null;
  return definePlugin<AlertsLiveConfigInput>({
    manifest: {
      name: 'alerts-live',
      version: '0.1.0',
      apiRange: '^1.0.0',
      sides: ['controller'],
      configSchema: configSchema as unknown as Record<string, unknown>,
    },
    setup(ctx) {
      const controller = ctx.controller;
      if (!controller) throw new SkipPlugin('alerts-live runs on the controller only');
      const config = resolveAlertsConfig(ctx.config);
      if (!controller.registerAlerts && !controller.registerAdminRoute) throw new SkipPlugin('this controller can show no live alerts (neither registerAlerts nor registerAdminRoute)');
      const e = new AlertsEngine({ config, deliveryFile: join(controller.dataDir, DELIVERY_LOG_FILE), logger: ctx.log, ...(opts.clock ? { clock: opts.clock } : {}) });
      if (controller.registerAlerts) controller.registerAlerts({ alerts: (limit) => e.view(limit) });
      else if (controller.registerAdminRoute)
        controller.registerAdminRoute(ALERTS_ROUTE, ({ query }) => {
          const n = Number(query.limit ?? 100);
          return e.view(Number.isInteger(n) && n > 0 ? Math.min(n, 10_000) : 100);
        });
      engine = e;
      e.start();
      opts.onEngine?.(e);
      ctx.log.info({ webhooks: config.webhooks.length, evaluateEverySeconds: config.evaluateEverySeconds }, 'live alerting ready');
    },
    onTelemetry(batch) {
      engine?.onTelemetry(batch);
    },
    onNodeEvent(event) {
      engine?.onNodeEvent(event);
    },
    async shutdown() {
      const e = engine;
      engine = null;
      e?.stop();
    },
  });
}

export const alertsLivePlugin = createAlertsLivePlugin();
