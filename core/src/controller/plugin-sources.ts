/**
 * PluginSources holds what controller plugins provide through the declared extension points
 * (ControllerAccess.registerPathHistory, registerAlerts): the web console and the admin API read
 * them from here, so core asks for a capability, never for a plugin by name.
 */
import type { AlertsSource } from '../api/live-alerts';
import type { PathHistorySource } from '../api/path-history';
import { errors } from '../errors';

export class PluginSources {
  private history: PathHistorySource | null = null;
  private alertsSource: AlertsSource | null = null;

  /** The console's per-path history, or null when no plugin provides one. */
  get pathHistory(): PathHistorySource | null {
    return this.history;
  }

  /** The live alerts, or null when no plugin evaluates them. */
  get alerts(): AlertsSource | null {
    return this.alertsSource;
  }

  registerPathHistory(source: PathHistorySource): void {
    if (typeof source?.p95RttHistory !== 'function') throw errors.configInvalid('path history', 'needs a p95RttHistory(minutes) method');
    if (this.history) throw errors.configInvalid('path history', 'is already provided by another plugin; load only one');
    this.history = source;
  }

  registerAlerts(source: AlertsSource): void {
    if (typeof source?.alerts !== 'function') throw errors.configInvalid('live alerts', 'needs an alerts(limit) method');
    if (this.alertsSource) throw errors.configInvalid('live alerts', 'are already provided by another plugin; load only one');
    this.alertsSource = source;
  }
}
