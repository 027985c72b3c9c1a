import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsAccess, PluginLogger } from '@trellis/core/api';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** renderMetrics collects once and serializes in the Prometheus text exposition format. */
export async function renderMetrics(metrics: MetricsAccess, serializer = new PrometheusSerializer()): Promise<string> {
  const { resourceMetrics, errors } = await metrics.collect();
  if (errors.length > 0) throw errors[0] instanceof Error ? errors[0] : new Error(String(errors[0]));
  return serializer.serialize(resourceMetrics);
}

/** parseListen splits host:port or [v6]:port. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(listen) ?? /^([^:[\]]+):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new Error(`listen "${listen}" is not host:port or [ipv6]:port (e.g. 127.0.0.1:9464)`);
  return { host: m[1]!, port };
}

/**
 * MetricsServer serves GET /metrics (and only that) on its own port. Each scrape collects anew;
 * a failing collection answers 500 with the reason instead of stale numbers.
 */
export class MetricsServer {
  private server: Server | null = null;
  private readonly serializer = new PrometheusSerializer();

  constructor(
    private readonly metrics: MetricsAccess,
    private readonly log?: PluginLogger,
  ) {}

  async listen(listen: string): Promise<AddressInfo> {
    const { host, port } = parseListen(listen);
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return server.address() as AddressInfo;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: scrape /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('use GET /metrics\n');
      return;
    }
    try {
      const text = await renderMetrics(this.metrics, this.serializer);
      res.writeHead(200, { 'content-type': CONTENT_TYPE });
      res.end(req.method === 'HEAD' ? undefined : text);
    } catch (err) {
      this.log?.error({ err: (err as Error).message }, 'metrics collection failed');
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics collection failed: ${(err as Error).message}\n`);
    }
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
