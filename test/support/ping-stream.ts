/**
 * A steady ICMP stream across the overlay and what happened to it: how many echo requests went
 * out, how many replies came back, and the longest time without a reply. A packet that waits in
 * wireguard-go's staged queue during a key rotation comes back late, not never; the gap shows the
 * wait.
 */
import type { Lab } from '../../core/src/lab/lab';

export interface PingStreamResult {
  sent: number;
  received: number;
  lost: number;
  /** Longest time between two consecutive replies, ms (Infinity without two replies). */
  longestGapMs: number;
  /** Slowest round trip, ms (a staged packet's wait shows here). */
  maxRttMs: number;
  /** Unix ms of each reply, in arrival order, with its sequence number. */
  replies: Array<{ at: number; seq: number; rttMs: number }>;
  startedAt: number;
}

/**
 * pingStream sends `count` echo requests at `intervalMs` (10 ms = 100 packets/s) from one lab node
 * to an address and resolves once the last reply is in or timed out (2 s).
 */
export async function pingStream(lab: Lab, from: string, address: string, opts: { count: number; intervalMs?: number }): Promise<PingStreamResult> {
  const interval = (opts.intervalMs ?? 10) / 1000;
  const startedAt = Date.now();
  const timeoutMs = 2 * opts.count * (opts.intervalMs ?? 10) + 30_000;
  const r = await lab.exec(from, 'ping', ['-D', '-n', '-i', String(interval), '-c', String(opts.count), '-W', '2', address], { timeoutMs });
  try {
    return parsePing(r.stdout, startedAt);
  } catch (err) {
    throw new Error(`${(err as Error).message}\nexit ${r.code} after ${Date.now() - startedAt} ms; stderr: ${r.stderr.slice(-500)}`);
  }
}

/** parsePing reads `ping -D -n` output: one `[unix.frac] ... icmp_seq=N ... time=T ms` line per reply, then the summary. */
export function parsePing(out: string, startedAt: number): PingStreamResult {
  const replies: PingStreamResult['replies'] = [];
  for (const line of out.split('\n')) {
    const m = /^\[(\d+\.\d+)\].*icmp_seq=(\d+).*time=([\d.]+) ms/.exec(line);
    if (m) replies.push({ at: Math.round(Number(m[1]) * 1000), seq: Number(m[2]), rttMs: Number(m[3]) });
  }
  const summary = /(\d+) packets transmitted, (\d+) received/.exec(out);
  if (!summary) throw new Error(`ping printed no summary:\n${out.slice(-500)}`);
  const sent = Number(summary[1]);
  const received = Number(summary[2]);
  let longestGapMs = replies.length > 1 ? 0 : Infinity;
  for (let i = 1; i < replies.length; i++) longestGapMs = Math.max(longestGapMs, replies[i].at - replies[i - 1].at);
  return { sent, received, lost: sent - received, longestGapMs, maxRttMs: Math.max(0, ...replies.map((r) => r.rttMs)), replies, startedAt };
}
