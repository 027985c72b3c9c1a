/**
 * Live alerts: a plugin that evaluates alert rules on live data registers a source; the controller
 * serves it at GET /v1/admin/alerts (`trellis alerts`) and in the web console's alerts panel.
 */

/** One alert instance, active (pending or firing) or recently resolved. */
export interface LiveAlert {
  uid: string;
  title: string;
  labels: Record<string, string>;
  value: number;
  threshold: number;
  state?: 'pending' | 'firing';
  pendingSince?: number;
  startsAt: number | null;
  endsAt?: number;
}

/**
 * What a source answers. Besides the alerts, a source may add fields its operators need (the
 * thresholds in force, webhook deliveries); the route and the console pass them on unchanged.
 */
export interface LiveAlerts {
  active: LiveAlert[];
  /** Recently resolved, newest first, at most the limit asked for. */
  recent: LiveAlert[];
}

export interface AlertsSource {
  alerts(limit: number): Promise<LiveAlerts> | LiveAlerts;
}
