/**
 * telemetry (agent side): every probe outcome, WireGuard tunnel samples and plugin rows go into a
 * bounded TelemetryBuffer, which is posted to the controller as signed batches on a timer. The
 * controller being away only grows the backlog (oldest rows dropped past its bound); the probe
 * loop and the local API never wait on delivery.
 */
import type { RelayRow, TelemetryContribution } from '../../api/telemetry';
import type { Logger } from '../../log/logger';
import type { HookRunner } from '../../plugins/hook-runner';
import type { TelemetryRequest, TelemetryResponse } from '../../wire';
import { ErrorCode } from '../../errors';
import type { WgPeerStats } from '../../wg/types';
import { Backoff } from '../backoff';
import { isRefusal } from '../controller-client';
import type { ProbeSample } from '../probes/probe-scheduler';
import { SeqEpoch } from './seq-epoch';
import { TelemetryBuffer, type TelemetryBufferStats } from './telemetry-buffer';
import { toTunnelRows } from './tunnel-rows';

export interface TelemetryOptions {
  /** Off: no rows are kept or sent. Default true. */
  enabled: boolean;
  /** How often batches are posted, ms. Default 2000. */
  intervalMs: number;
  /** How often WireGuard stats become tunnel rows, ms. Default 5000. */
  tunnelIntervalMs: number;
  /** Backlog bound in rows. Default 50 000. */
  maxBacklogRows: number;
  /** Rows per posted batch. Default 5000. */
  maxBatchRows: number;
}

export const DEFAULT_TELEMETRY_OPTIONS: TelemetryOptions = {
  enabled: true,
  intervalMs: 2000,
  tunnelIntervalMs: 5000,
  maxBacklogRows: 50_000,
  maxBatchRows: 5000,
};

/** resolveTelemetryOptions checks `agent.settings.telemetry` (or options) and fills defaults. */
export function resolveTelemetryOptions(raw: unknown): TelemetryOptions {
  if (raw === undefined || raw === null) return { ...DEFAULT_TELEMETRY_OPTIONS };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new TypeError('agent.settings.telemetry must be an object');
  const out = { ...DEFAULT_TELEMETRY_OPTIONS };
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (k === 'enabled') {
      if (typeof v !== 'boolean') throw new TypeError('agent.settings.telemetry.enabled must be true or false');
      out.enabled = v;
    } else if (k === 'intervalMs' || k === 'tunnelIntervalMs' || k === 'maxBacklogRows' || k === 'maxBatchRows') {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new TypeError(`agent.settings.telemetry.${k} must be a positive integer, got ${JSON.stringify(v)}`);
      out[k] = v;
    } else {
      throw new TypeError(`agent.settings.telemetry has an unknown key "${k}" (known: enabled, intervalMs, tunnelIntervalMs, maxBacklogRows, maxBatchRows)`);
    }
  }
  return out;
}

/** What AgentTelemetry needs from the rest of the agent. */
export interface AgentTelemetryDeps {
  stateDir: string;
  /** This node's name (src of every row). */
  nodeName: () => string;
  /** Current peers, id → name and WireGuard key → name. */
  peers: () => { nameById: ReadonlyMap<string, string>; nameByKey: ReadonlyMap<string, string> };
  /** The path a peer's traffic takes now: 'direct' or the relay's name (default 'direct'). */
  pathOf?: (peerId: string) => string;
  wgStats: () => Promise<WgPeerStats[]>;
  /** The node's relay forwarder now (RelayRow without ts and src); null when it runs none. */
  relayStats?: () => Promise<Omit<RelayRow, 'ts' | 'src'> | null>;
  post: (batch: TelemetryRequest) => Promise<TelemetryResponse>;
  hooks: HookRunner;
  log: Logger;
  options: TelemetryOptions;
  clock?: () => number;
}

export interface AgentTelemetryStats extends TelemetryBufferStats {
  lastError: string | null;
  lastSentAt: number | null;
}

export class AgentTelemetry {
  readonly buffer: TelemetryBuffer;
  private readonly epoch: SeqEpoch;
  private readonly clock: () => number;
  private readonly backoff = new Backoff({ initialMs: 500, maxMs: 10_000 });
  private timers: NodeJS.Timeout[] = [];
  private sending: Promise<void> | null = null;
  private retryAt = 0;
  private lastError: string | null = null;
  private lastSentAt: number | null = null;
  private stopped = false;

  constructor(private readonly d: AgentTelemetryDeps) {
    this.clock = d.clock ?? Date.now;
    this.epoch = new SeqEpoch(d.stateDir, this.clock);
    this.buffer = new TelemetryBuffer({ maxRows: d.options.maxBacklogRows, maxBatchRows: d.options.maxBatchRows });
  }

  start(): void {
    if (!this.d.options.enabled) return;
    this.timers.push(setInterval(() => void this.flush(), this.d.options.intervalMs));
    this.timers.push(setInterval(() => void this.sampleTunnels(), this.d.options.tunnelIntervalMs));
    for (const t of this.timers) t.unref();
  }

  /**
   * probeSink reserves a fresh seq range for one probe run and returns the onSample callback that
   * turns its samples into rows (seq = base + wire seq, unique across restarts).
   */
  async probeSink(): Promise<(s: ProbeSample) => void> {
    if (!this.d.options.enabled) return () => undefined;
    const base = await this.epoch.allocate();
    return (s) => {
      const dst = this.d.peers().nameById.get(s.peerId);
      if (dst === undefined) return;
      this.buffer.addProbe({
        ts: s.sentAt,
        src: this.d.nodeName(),
        dst,
        path: this.d.pathOf?.(s.peerId) ?? 'direct',
        seq: base + s.seq,
        rttUs: s.rttUs,
        lost: s.rttUs === null,
        jitterUs: s.jitterUs,
      });
    };
  }

  async sampleTunnels(): Promise<void> {
    if (this.stopped) return;
    try {
      const stats = await this.d.wgStats();
      this.buffer.addTunnels(toTunnelRows(this.d.nodeName(), stats, this.d.peers().nameByKey, this.clock()));
    } catch (err) {
      this.d.log.debug({ err: (err as Error).message }, 'could not sample WireGuard stats for telemetry');
    }
    try {
      const relay = (await this.d.relayStats?.()) ?? null;
      if (relay) this.buffer.addRelay({ ts: this.clock(), src: this.d.nodeName(), ...relay });
    } catch (err) {
      this.d.log.debug({ err: (err as Error).message }, 'could not sample the relay for telemetry');
    }
  }

  private async collectContributions(): Promise<void> {
    if (!this.d.hooks.has('collectTelemetry')) return;
    const parts: Record<string, TelemetryContribution> = await this.d.hooks.runParallelNamed('collectTelemetry');
    for (const [plugin, c] of Object.entries(parts)) if (c && Array.isArray(c.rows) && c.rows.length > 0) this.buffer.addPluginRows(plugin, c.rows);
  }

  /** flush seals what is open and posts batches in order until one fails; one flush runs at a time. */
  flush(): Promise<void> {
    if (this.sending || this.stopped) return this.sending ?? Promise.resolve();
    this.sending = this.flushNow().finally(() => (this.sending = null));
    return this.sending;
  }

  private async flushNow(): Promise<void> {
    await this.collectContributions().catch((err: unknown) => this.d.log.warn({ err: (err as Error).message }, 'collectTelemetry failed'));
    this.buffer.seal();
    if (this.clock() < this.retryAt) return;
    for (let b = this.buffer.next(); b !== null && !this.stopped; b = this.buffer.next()) {
      const body: TelemetryRequest = { batchId: b.batchId, sentAt: this.clock(), probes: b.probes, tunnels: b.tunnels };
      if (b.relays.length > 0) body.relays = b.relays;
      if (Object.keys(b.plugins).length > 0) body.plugins = b.plugins;
      try {
        await this.d.post(body);
        this.buffer.ack(b.batchId);
        this.lastSentAt = this.clock();
        if (this.lastError !== null) this.d.log.info({ queuedRows: this.buffer.stats().queuedRows }, 'telemetry delivery resumed');
        this.lastError = null;
        this.backoff.reset();
      } catch (err) {
        if (isRefusal(err) && (err.code === ErrorCode.BAD_REQUEST || err.code === ErrorCode.BODY_TOO_LARGE)) {
          this.buffer.discard(b.batchId);
          this.d.log.error({ batchId: b.batchId, code: err.code, err: err.message }, 'controller refused a telemetry batch as malformed; dropped it');
          continue;
        }
        this.buffer.release();
        const msg = (err as Error).message;
        if (msg !== this.lastError) this.d.log.warn({ err: msg, queuedRows: this.buffer.stats().queuedRows }, 'telemetry delivery failed; keeping a backlog and retrying');
        this.lastError = msg;
        this.retryAt = this.clock() + this.backoff.next();
        return;
      }
    }
  }

  stats(): AgentTelemetryStats {
    return { ...this.buffer.stats(), lastError: this.lastError, lastSentAt: this.lastSentAt };
  }

  /** stop ends the timers and waits for a post under way (bounded by its own timeout). */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.sending?.catch(() => undefined);
    this.stopped = true;
  }
}
