/**
 * `trellis lab impair a b --delay 40ms --jitter 5ms --loss 5%`: the direct underlay path between two
 * lab nodes, impaired in both directions, with what this kernel has (no netem, no nft queue):
 *   - loss: an nft table in the sender's namespace drops with `numgen random` the packets to the
 *     receiver's underlay addresses;
 *   - delay and jitter: iptables-legacy sends those packets to an NFQUEUE and trellis-delay-queue
 *     (core/src/lab/native, built by setup) holds each for delay ± jitter before accepting it.
 * The figures are what a ping between the two sees: each direction gets half the delay and jitter
 * and drops 1 − √(1 − loss); a one-way impairment puts all of it on the first node's packets to
 * the second (`--loss 100% --one-way` makes a path that works in one direction only). Packets
 * through a relay (to another address) are not touched.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { errors } from '../errors';
import { run, tryRun } from '../sys/run';
import { cmdlineOf, isAlive, sleep, spawnDetached, terminateGroup } from './process-group';
import type { LabImpairedDirection } from './lab-state';

export interface ImpairmentSpec {
  delayMs: number;
  jitterMs: number;
  lossPct: number;
  /** Only the first node's packets to the second are impaired, with the whole figures (a one-way path). */
  oneWay?: boolean;
}

/** Longest round-trip delay the lab adds. */
export const MAX_IMPAIR_DELAY_MS = 10_000;

/** checkImpairment refuses figures that make no sense, naming them; nothing has been changed yet. */
export function checkImpairment(s: ImpairmentSpec): void {
  const finite = (n: number) => typeof n === 'number' && Number.isFinite(n);
  if (!finite(s.delayMs) || s.delayMs < 0 || s.delayMs > MAX_IMPAIR_DELAY_MS) throw errors.lab(`--delay must be 0..${MAX_IMPAIR_DELAY_MS} ms, got ${s.delayMs}`);
  if (!finite(s.jitterMs) || s.jitterMs < 0) throw errors.lab(`--jitter must be 0 ms or more, got ${s.jitterMs}`);
  if (s.jitterMs > s.delayMs) throw errors.lab(`--jitter ${s.jitterMs} ms is more than --delay ${s.delayMs} ms; a packet cannot leave before it was sent`);
  if (!finite(s.lossPct) || s.lossPct < 0 || s.lossPct > 100) throw errors.lab(`--loss must be 0..100 %, got ${s.lossPct}`);
  if (s.delayMs === 0 && s.lossPct === 0) throw errors.lab('nothing to impair: give --delay and/or --loss (or --clear to remove an impairment)');
}

export interface DirectionFigures {
  delayUs: number;
  jitterUs: number;
  /** Out of 1 000 000 packets, how many each direction drops. */
  lossPerMillion: number;
}

/** perDirection splits round-trip figures into what each direction does (one way: all of them). */
export function perDirection(s: ImpairmentSpec): DirectionFigures {
  if (s.oneWay === true) return { delayUs: Math.round(s.delayMs * 1000), jitterUs: Math.round(s.jitterMs * 1000), lossPerMillion: Math.round((s.lossPct / 100) * 1_000_000) };
  const p = 1 - Math.sqrt(1 - s.lossPct / 100);
  return { delayUs: Math.round((s.delayMs * 1000) / 2), jitterUs: Math.round((s.jitterMs * 1000) / 2), lossPerMillion: Math.round(p * 1_000_000) };
}

/** delayQueueBinary is TRELLIS_DELAY_QUEUE, else <checkout>/.lab-tools/bin/trellis-delay-queue beside the CLI's checkout. */
export function delayQueueBinary(cliPath: string, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.TRELLIS_DELAY_QUEUE;
  const path = fromEnv && fromEnv !== '' ? fromEnv : join(resolve(cliPath, '..', '..', '..', '..'), '.lab-tools', 'bin', 'trellis-delay-queue');
  if (!existsSync(path)) {
    throw errors.lab(`the delay line ${path} is missing; build it with \`bash scripts/install-lab-tools.sh\` (setup does; needs libnetfilter-queue-dev), or set TRELLIS_DELAY_QUEUE`);
  }
  return path;
}

export interface DirectionPlan {
  namespace: string;
  from: string;
  to: string;
  /** The receiver's index: names the rules (trl_impair_<k>, TRLIMP<k>) and the queue (100 + k). */
  toIndex: number;
  destinations: string[];
  log: string;
}

/** waitForReady waits until the delay line says it is bound to its queue, or fails with its log. */
async function waitForReady(pid: number, log: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
    if (/holding each packet/.test(text)) return;
    if (!isAlive(pid)) throw errors.lab(`the delay line exited at start: ${text.trim().split('\n').pop() ?? 'no output'}`);
    if (Date.now() > deadline) throw errors.lab(`the delay line did not bind its queue within ${timeoutMs} ms; see ${log}`);
    await sleep(20);
  }
}

/**
 * applyDirection installs one direction: the delay line (when there is delay), then the loss table
 * and the queue rule. It records what it made into `made` as it goes, so a failure half-way can be
 * undone by clearDirection.
 */
export async function applyDirection(p: DirectionPlan, f: DirectionFigures, binary: string, made: LabImpairedDirection): Promise<void> {
  const v4 = p.destinations.filter((d) => !d.includes(':'));
  if (f.delayUs > 0) {
    const queue = 100 + p.toIndex;
    made.pid = await spawnDetached('ip', ['netns', 'exec', p.namespace, binary, '--queue', String(queue), '--delay-us', String(f.delayUs), '--jitter-us', String(f.jitterUs)], p.log);
    made.queue = queue;
    await waitForReady(made.pid, p.log, 5000);
    const chain = `TRLIMP${p.toIndex}`;
    await run('iptables-legacy', ['-t', 'mangle', '-N', chain], { netns: p.namespace });
    made.iptablesChain = chain;
    for (const d of v4) {
      await run('iptables-legacy', ['-t', 'mangle', '-A', chain, '-d', d, '-j', 'NFQUEUE', '--queue-num', String(queue), '--queue-bypass'], { netns: p.namespace });
    }
    await run('iptables-legacy', ['-t', 'mangle', '-A', 'OUTPUT', '-j', chain], { netns: p.namespace });
  }
  if (f.lossPerMillion > 0) {
    const table = `trl_impair_${p.toIndex}`;
    made.nftTable = table;
    await run('nft', ['-f', '-'], { netns: p.namespace, input: lossTable(table, v4, f.lossPerMillion, `trellis lab impair ${p.from}->${p.to}`) });
  }
}

/**
 * lossTable is the nft table dropping lossPerMillion of a million packets to the destinations
 * (numgen's range ends at 999999, so all of them is a plain drop: a cut).
 */
export function lossTable(table: string, destinations: readonly string[], lossPerMillion: number, comment: string): string {
  const when = lossPerMillion >= 1_000_000 ? '' : ` numgen random mod 1000000 < ${lossPerMillion}`;
  return `table inet ${table} {\n  chain out {\n    type filter hook output priority -200; policy accept;\n    ip daddr { ${destinations.join(', ')} }${when} counter drop comment "${comment}"\n  }\n}\n`;
}

/** clearDirection removes whatever of one direction exists (idempotent; a gone namespace is fine). */
export async function clearDirection(d: LabImpairedDirection): Promise<void> {
  if (d.iptablesChain) {
    while ((await tryRun('iptables-legacy', ['-t', 'mangle', '-D', 'OUTPUT', '-j', d.iptablesChain], { netns: d.namespace })) !== null) {
      // a chain jumped to more than once: remove every jump
    }
    await tryRun('iptables-legacy', ['-t', 'mangle', '-F', d.iptablesChain], { netns: d.namespace });
    await tryRun('iptables-legacy', ['-t', 'mangle', '-X', d.iptablesChain], { netns: d.namespace });
  }
  if (d.nftTable) await tryRun('nft', ['delete', 'table', 'inet', d.nftTable], { netns: d.namespace });
  if (d.pid !== null && isAlive(d.pid) && /(^|\/)trellis-delay-queue$/.test(cmdlineOf(d.pid)?.[0] ?? '')) await terminateGroup(d.pid, 3000);
}
