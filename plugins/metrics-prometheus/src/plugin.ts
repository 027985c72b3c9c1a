import { definePlugin, SkipPlugin } from '@trellis/core/api';
import { prometheusLabWiring } from './lab-wiring';
import { MetricsServer } from './metrics-server';

export interface MetricsPrometheusConfig {
  /** host:port of the /metrics endpoint. Default 127.0.0.1:9464 on agents, 127.0.0.1:9465 on the controller. */
  listen?: string;
}

export const DEFAULT_LISTEN = { agent: '127.0.0.1:9464', controller: '127.0.0.1:9465' } as const;

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    listen: { type: 'string', pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[^:\\[\\]]+):[0-9]{1,5}$' },
  },
} as const;

let server: MetricsServer | null = null;

/** metricsAddress is where the running plugin listens (host:port), or null. */
let bound: string | null = null;
export function metricsAddress(): string | null {
  return bound;
}

export const metricsPrometheusPlugin = definePlugin<MetricsPrometheusConfig>({
  manifest: {
    name: 'metrics-prometheus',
    version: '0.1.0',
    apiRange: '^1.0.0',
    sides: ['agent', 'controller'],
    configSchema: configSchema as unknown as Record<string, unknown>,
  },
  lab: prometheusLabWiring,
  async setup(ctx) {
    if (!ctx.metrics) throw new SkipPlugin('this runtime exposes no metrics to plugins');
    const listen = ctx.config.listen ?? DEFAULT_LISTEN[ctx.side];
    const s = new MetricsServer(ctx.metrics, ctx.log);
    const addr = await s.listen(listen);
    bound = addr.family === 'IPv6' ? `[${addr.address}]:${addr.port}` : `${addr.address}:${addr.port}`;
    server = s;
    ctx.log.info({ listen: bound }, 'serving Prometheus metrics at /metrics');
  },
  async shutdown() {
    const s = server;
    server = null;
    bound = null;
    await s?.close();
  },
});
