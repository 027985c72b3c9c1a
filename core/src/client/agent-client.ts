/**
 * AgentClient talks to a running agent's local API: HTTP over the unix socket <stateDir>/agent.sock.
 */
import { request } from 'node:http';
import { join } from 'node:path';
import { AGENT_API, type AgentStatus } from '../wire';
import { errors, TrellisError } from '../errors';

export class AgentClient {
  constructor(readonly socketPath: string) {}

  /** forStateDir points at the socket an agent with this state dir serves. */
  static forStateDir(stateDir: string): AgentClient {
    return new AgentClient(join(stateDir, 'agent.sock'));
  }

  status(timeoutMs = 5000): Promise<AgentStatus> {
    return this.call('GET', AGENT_API.status, timeoutMs) as Promise<AgentStatus>;
  }

  /** down asks the agent to tear its device down and exit. */
  async down(timeoutMs = 10_000): Promise<void> {
    await this.call('POST', AGENT_API.down, timeoutMs);
  }

  private call(method: string, path: string, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = request(
        { socketPath: this.socketPath, method, path, headers: { host: 'agent', 'content-length': 0 }, timeout: timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (e) => reject(errors.agentUnreachable(this.socketPath, e.message)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown = null;
            try {
              body = text === '' ? null : JSON.parse(text);
            } catch {
              body = text;
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              resolve(body);
              return;
            }
            const err = (body as { error?: { code?: string; message?: string } } | null)?.error;
            reject(
              err?.code
                ? new TrellisError(err.code, err.message ?? `agent answered ${status}`)
                : errors.agentUnreachable(this.socketPath, `HTTP ${status} from ${method} ${path}`),
            );
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (e: NodeJS.ErrnoException) => reject(errors.agentUnreachable(this.socketPath, e.code ?? e.message)));
      req.end();
    });
  }
}
