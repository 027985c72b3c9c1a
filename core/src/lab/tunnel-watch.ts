/**
 * watchTunnels follows the mesh forming: it polls every node's status and reports each ordered
 * pair (a → b) once a has a WireGuard handshake with b and a first probe RTT to it.
 */
import type { AgentStatus } from '../wire';
import { errors } from '../errors';
import type { Lab } from './lab';
import { sleep } from './process-group';

export interface TunnelUp {
  from: string;
  to: string;
  rttUs: number;
  /** ms since startedAt (default: since the watch began) */
  afterMs: number;
  /** 1-based count of pairs up so far, and the number of ordered pairs in the mesh. */
  index: number;
  total: number;
}

export interface WatchTunnelsOptions {
  timeoutMs?: number;
  pollMs?: number;
  signal?: AbortSignal;
  /** Unix ms that afterMs counts from, e.g. when the lab started. */
  startedAt?: number;
}

/** watchTunnels resolves with the last status of every node once all N·(N−1) pairs are up. */
export async function watchTunnels(
  lab: Lab,
  onUp: (t: TunnelUp) => void,
  opts: WatchTunnelsOptions = {},
): Promise<Map<string, AgentStatus>> {
  const names = lab.nodeNames;
  const total = names.length * (names.length - 1);
  const seen = new Set<string>();
  const last = new Map<string, AgentStatus>();
  const start = opts.startedAt ?? Date.now();
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    const statuses = await Promise.all(names.map((n) => lab.status(n).catch(() => null)));
    statuses.forEach((s, i) => {
      if (!s) return;
      const from = names[i]!;
      last.set(from, s);
      for (const p of s.peers) {
        const key = `${from}>${p.name}`;
        if (seen.has(key) || p.lastHandshake === null || p.probe == null || p.probe.rttUs === null) continue;
        seen.add(key);
        onUp({ from, to: p.name, rttUs: p.probe.rttUs, afterMs: Date.now() - start, index: seen.size, total });
      }
    });
    if (seen.size >= total) return last;
    if (opts.signal?.aborted) return last;
    if (Date.now() > deadline) {
      const missing = names.flatMap((a) => names.filter((b) => b !== a && !seen.has(`${a}>${b}`)).map((b) => `${a} → ${b}`));
      throw errors.lab(
        `${missing.length} of ${total} tunnels did not come up within ${Math.round((opts.timeoutMs ?? 60_000) / 1000)}s ` +
          `(${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ', …' : ''}); see the logs in ${lab.dir}/logs`,
      );
    }
    await sleep(opts.pollMs ?? 200);
  }
}
