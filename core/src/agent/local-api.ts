import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { errors } from '../errors';
import { AGENT_API, type AgentStatus } from '../wire';

export const AGENT_SOCKET = 'agent.sock';

export function agentSocketPath(stateDir: string): string {
  return path.join(stateDir, AGENT_SOCKET);
}

export interface LocalApiOptions {
  socketPath: string;
  status: () => Promise<AgentStatus>;
  /** Called after the POST /v1/down answer was sent. */
  onDown: () => void;
  log: Logger;
}

/**
 * LocalApi serves the agent's local control API (AGENT_API) as HTTP on a unix socket that only
 * root (the socket owner) may use: the CLI's `trellis status` and `trellis down` talk to it.
 */
export class LocalApi {
  private server: http.Server | null = null;

  constructor(private readonly opts: LocalApiOptions) {}

  async listen(): Promise<void> {
    const { socketPath } = this.opts;
    await removeStaleSocket(socketPath);
    const server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Created under a restrictive umask so no other user can connect between listen and chmod.
      const old = process.umask(0o177);
      try {
        server.listen(socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      } finally {
        process.umask(old);
      }
    });
    await fs.chmod(socketPath, 0o600);
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await fs.rm(this.opts.socketPath, { force: true });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    req.resume();
    try {
      if (url === AGENT_API.status) {
        if (req.method !== 'GET') return send(405, errorBody('BAD_REQUEST', `${url} takes GET`));
        return send(200, await this.opts.status());
      }
      if (url === AGENT_API.down) {
        if (req.method !== 'POST') return send(405, errorBody('BAD_REQUEST', `${url} takes POST`));
        res.on('finish', () => this.opts.onDown());
        return send(200, { ok: true });
      }
      const nf = errors.notFound(`agent API route ${req.method} ${url}`);
      return send(404, { error: { code: nf.code, message: nf.message } });
    } catch (err) {
      this.opts.log.error({ err, url }, 'local API request failed');
      return send(500, { error: { code: 'TRELLIS_ERR_DEVICE', message: (err as Error).message } });
    }
  }
}

function errorBody(_kind: 'BAD_REQUEST', message: string) {
  const e = errors.badRequest(message);
  return { error: { code: e.code, message: e.message } };
}

/** removeStaleSocket deletes a leftover socket, but refuses when a live agent still answers on it. */
async function removeStaleSocket(socketPath: string): Promise<void> {
  try {
    await fs.lstat(socketPath);
  } catch {
    return;
  }
  const alive = await new Promise<boolean>((resolve) => {
    const c = net.connect(socketPath);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (alive) throw errors.usage(`another agent is already serving ${socketPath}; stop it with \`trellis down\` first`);
  await fs.rm(socketPath, { force: true });
}
