import { definePlugin, SkipPlugin } from '@trellis/core/api';
import { OtlpPush, parseOtlpUrl } from './otlp-push';

export interface MetricsOtlpConfig {
  /** OTLP/HTTP metrics endpoint, e.g. http://127.0.0.1:4318/v1/metrics. */
  url: string;
  /** Push interval; default 15000. */
  intervalMs?: number;
  /** Extra request headers, e.g. an authorization header for a hosted collector. */
  headers?: Record<string, string>;
  /** Per-request timeout; default 10000. */
  timeoutMs?: number;
}

export const DEFAULT_INTERVAL_MS = 15_000;
export const DEFAULT_TIMEOUT_MS = 10_000;

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: { type: 'string', minLength: 1 },
    intervalMs: { type: 'integer', minimum: 100, maximum: 3_600_000, default: DEFAULT_INTERVAL_MS },
    headers: { type: 'object', additionalProperties: { type: 'string' } },
    timeoutMs: { type: 'integer', minimum: 100, maximum: 120_000, default: DEFAULT_TIMEOUT_MS },
  },
} as const;

let push: OtlpPush | null = null;

/** otlpPush is the running plugin's pusher (tests, status), or null. */
export function otlpPush(): OtlpPush | null {
  return push;
}

export const metricsOtlpPlugin = definePlugin<MetricsOtlpConfig>({
  manifest: {
    name: 'metrics-otlp',
    version: '0.1.0',
    apiRange: '^1.0.0',
    sides: ['agent', 'controller'],
    configSchema: configSchema as unknown as Record<string, unknown>,
  },
  /**
   * setup checks the URL and sends a first export, so a wrong URL or a collector that is not there
   * fails setup with an error naming it (the host then disables only this plugin) instead of
   * failing silently every interval.
   */
  async setup(ctx) {
    if (!ctx.metrics) throw new SkipPlugin('this runtime exposes no metrics to plugins');
    parseOtlpUrl(ctx.config.url);
    const p = new OtlpPush(
      ctx.metrics,
      {
        url: ctx.config.url,
        intervalMs: ctx.config.intervalMs ?? DEFAULT_INTERVAL_MS,
        timeoutMs: ctx.config.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        ...(ctx.config.headers ? { headers: ctx.config.headers } : {}),
      },
      ctx.log,
    );
    try {
      await p.exportOnce();
    } catch (err) {
      await p.stop(false).catch(() => undefined);
      throw err;
    }
    p.start();
    push = p;
    ctx.log.info({ url: ctx.config.url, intervalMs: ctx.config.intervalMs ?? DEFAULT_INTERVAL_MS }, 'pushing metrics over OTLP/HTTP');
  },
  async shutdown() {
    const p = push;
    push = null;
    await p?.stop();
  },
});
