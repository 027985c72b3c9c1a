/**
 * Live alerts come from the plugin that registered itself as their source
 * (ControllerAccess.registerAlerts). The controller then serves them at GET /v1/admin/alerts,
 * through the admin route registry (admin token, audited reads), and the console shows them.
 */
import type { AdminRouteHandler } from '../api/plugin';
import type { AlertsSource, LiveAlerts } from '../api/live-alerts';
import { errors } from '../errors';
import type { PluginSources } from './plugin-sources';

/** How many recently resolved alerts an answer carries by default, and at most. */
export const ALERTS_LIMIT = { default: 100, max: 10_000 } as const;

/** alertsRoute answers GET /v1/admin/alerts?limit=N from the source; a limit that is not a whole number above 0 means the default. */
export function alertsRoute(source: AlertsSource): AdminRouteHandler {
  return ({ query }) => {
    const n = Number(query.limit ?? ALERTS_LIMIT.default);
    return source.alerts(Number.isInteger(n) && n > 0 ? Math.min(n, ALERTS_LIMIT.max) : ALERTS_LIMIT.default);
  };
}

/** liveAlerts asks the registered source, or says that no plugin provides live alerts. */
export async function liveAlerts(sources: PluginSources, limit: number): Promise<LiveAlerts> {
  const source = sources.alerts;
  if (!source) throw errors.notFound('live alerts: no plugin on this controller evaluates them (alerts-live does)');
  return source.alerts(Math.min(limit, ALERTS_LIMIT.max));
}
