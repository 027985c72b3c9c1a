import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsAccess, PluginLogger } from '@trellis/core/api';
import { prometheusErrors } from './errors';
import { CONTENT_TYPE, PrometheusExposition } from './prometheus-exposition';

/** renderMetrics collects once and returns the Prometheus text exposition (process metrics included). */
export function renderMetrics(metrics: MetricsAccess): Promise<string> {
  return new PrometheusExposition(metrics).render();
}

/** parseListen splits host:port or [v6]:port. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(listen) ?? /^([^:[\]]+):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw prometheusErrors.listenInvalid(listen);
  return { host: m[1]!, port };
}

/**
 * MetricsServer serves GET /metrics (and only that) on its own port. Each scrape collects anew;
 * a failing collection answers 500 with the reason instead of stale numbers.
 */
export class MetricsServer {
  private server: Server | null = null;
  private readonly exposition: PrometheusExposition;

  constructor(
    metrics: MetricsAccess,
    private readonly log?: PluginLogger,
  ) {
    this.exposition = new PrometheusExposition(metrics, log);
  }

  async listen(listen: string): Promise<AddressInfo> {
    const { host, port } = parseListen(listen);
    const server = createServer((req, res) => void this.handle(req, res));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      throw prometheusErrors.listenFailed(listen, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
    }
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
      const text = await this.exposition.render();
      res.writeHead(200, { 'content-type': CONTENT_TYPE });
      res.end(req.method === 'HEAD' ? undefined : text);
    } catch (err) {
      this.log?.error({ err: (err as Error).message }, 'metrics collection failed');
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
    }
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
