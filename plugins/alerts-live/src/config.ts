import { resolve } from 'node:path';
import { TrellisError } from '@trellis/core/api';
import { loadThresholds, resolveThresholds, type AlertThresholds } from '@trellis/plugin-dashboards-grafana';
import { alertsErrors } from './errors';

export interface WebhookTarget {
  url: string;
  /** When set, each body is signed: x-trellis-signature: sha256=<hex HMAC-SHA256 of the body>. */
  secret?: string;
}

export interface RetryPolicy {
  /** Attempts per notification, the first included. */
  maxAttempts: number;
  /** Wait before the second attempt; doubles after each failure up to maxDelayMs. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** One attempt is aborted after this long. */
  timeoutMs: number;
}

/** The plugin's config as written in the controller's config file. */
export interface AlertsLiveConfigInput {
  /** Threshold overrides (object) or a JSON/YAML file of them; layered over the Grafana plugin's defaults. */
  thresholds?: Record<string, unknown> | string;
  webhooks?: WebhookTarget[];
  evaluateEverySeconds?: number;
  retry?: Partial<RetryPolicy>;
  /** How many resolved alerts and delivery attempts are kept in memory. */
  historyLimit?: number;
}

export interface AlertsLiveConfig {
  thresholds: AlertThresholds;
  webhooks: WebhookTarget[];
  evaluateEverySeconds: number;
  retry: RetryPolicy;
  historyLimit: number;
}

export const RETRY_DEFAULTS: RetryPolicy = { maxAttempts: 5, initialDelayMs: 500, maxDelayMs: 30_000, timeoutMs: 5000 };

/** The plugin's JSON schema; the plugin host validates with Ajv before setup (an invalid shape stops the controller). */
export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    thresholds: { oneOf: [{ type: 'object' }, { type: 'string', minLength: 1 }] },
    webhooks: {
      type: 'array',
      maxItems: 20,
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['url'],
        properties: { url: { type: 'string', pattern: '^https?://[^\\s]+$' }, secret: { type: 'string', minLength: 1 } },
      },
    },
    evaluateEverySeconds: { type: 'number', minimum: 0.1, maximum: 3600, default: 5 },
    retry: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxAttempts: { type: 'integer', minimum: 1, maximum: 20 },
        initialDelayMs: { type: 'integer', minimum: 1, maximum: 600_000 },
        maxDelayMs: { type: 'integer', minimum: 1, maximum: 3_600_000 },
        timeoutMs: { type: 'integer', minimum: 100, maximum: 120_000 },
      },
    },
    historyLimit: { type: 'integer', minimum: 1, maximum: 100_000, default: 500 },
  },
} as const;

/**
 * resolveAlertsConfig turns the plugin config into thresholds and settings. Thresholds go through
 * the Grafana plugin's resolveThresholds/loadThresholds, so unknown keys, negative values and loss
 * above 100 % are refused with the same message the dashboards generator gives. A relative
 * thresholds file is resolved against the controller's working directory.
 */
export function resolveAlertsConfig(input: AlertsLiveConfigInput | undefined): AlertsLiveConfig {
  const c = input ?? {};
  let thresholds: AlertThresholds;
  try {
    if (typeof c.thresholds === 'string') thresholds = loadThresholds(resolve(c.thresholds));
    else thresholds = resolveThresholds(c.thresholds, 'alerts-live config "thresholds"');
  } catch (err) {
    if (err instanceof TrellisError) throw err;
    throw alertsErrors.configInvalid('thresholds', `could not be read: ${(err as Error).message}`);
  }
  const every = c.evaluateEverySeconds ?? 5;
  if (typeof every !== 'number' || !Number.isFinite(every) || every < 0.1 || every > 3600) {
    throw alertsErrors.configInvalid('evaluateEverySeconds', `must be seconds from 0.1 to 3600, got ${JSON.stringify(every)}`);
  }
  const webhooks = c.webhooks ?? [];
  for (const [i, w] of webhooks.entries()) {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(w.url).protocol);
    } catch {
      ok = false;
    }
    if (!ok) throw alertsErrors.configInvalid(`webhooks[${i}].url`, `must be an http(s) URL, got ${JSON.stringify(w.url)}`);
  }
  const retry = { ...RETRY_DEFAULTS, ...(c.retry ?? {}) };
  if (retry.maxDelayMs < retry.initialDelayMs) throw alertsErrors.configInvalid('retry.maxDelayMs', `must be at least retry.initialDelayMs (${retry.initialDelayMs})`);
  return { thresholds, webhooks: webhooks.map((w) => ({ ...w })), evaluateEverySeconds: every, retry, historyLimit: c.historyLimit ?? 500 };
}

/** redactUrl drops credentials and the query from a URL before it is logged or shown. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '(invalid url)';
  }
}
