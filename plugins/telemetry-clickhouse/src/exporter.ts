/**
 * ClickHouseExporter delivers telemetry batches to ClickHouse in OpenTelemetry's exporter shape.
 * export() validates and buffers, and returns at once; the Batcher cuts insert blocks by size and
 * time; one delivery loop inserts blocks in order. When an insert fails, that block and every
 * later one go to the on-disk Spool, which the loop replays in order (with backoff) once
 * ClickHouse answers again, asking the ingest ledger first (for blocks that may have landed) so a
 * block never lands twice.
 */
import { randomUUID } from 'node:crypto';
import type { PluginLogger } from '@trellis/core/api';
import { Batcher } from './batcher';
import type { BlockSink } from './block-sink';
import { systemClock, type Clock } from './clock';
import { ClickHouseErrorCode, clickhouseErrors } from './errors';
import { ExportResultCode, type ExportResult, type TelemetryExporter } from './export-result';
import { countRows, toDbRows, type DbRow, type TableName, type TelemetryBatch } from './rows';
import { Spool, type SpoolRecord } from './spool';

export interface ClickHouseExporterOptions {
  sink: BlockSink;
  spoolDir: string;
  spoolMaxBytes: number;
  batchMaxRows: number;
  batchMaxMs: number;
  clock?: Clock;
  log?: PluginLogger;
  /** Blocks allowed to wait in memory behind a slow insert before it is aborted and all go to the spool. */
  maxQueuedBlocks?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  /** A block ClickHouse rejects for a reason other than reachability is dropped after this many tries. */
  maxBlockAttempts?: number;
}

export interface ExporterStats {
  /** Rows inserted on their first try. */
  inserted: number;
  /** Rows written to the spool. */
  spooled: number;
  /** Spooled rows inserted later. */
  replayed: number;
  /** Spooled rows whose block the ledger showed had landed already. */
  duplicatesSkipped: number;
  /** Rows lost: past the spool bound, or in a block ClickHouse kept refusing. */
  dropped: number;
  /** Batches refused by export() because a row was invalid. */
  rejectedBatches: number;
  bufferedRows: number;
  queuedBlocks: number;
  spoolRows: number;
  spoolBytes: number;
  state: 'live' | 'replaying';
  lastError?: string;
}

const UNREACHABLE_CODES = new Set<string>([ClickHouseErrorCode.UNREACHABLE, ClickHouseErrorCode.AUTH_FAILED]);

export class ClickHouseExporter implements TelemetryExporter<TelemetryBatch> {
  private readonly clock: Clock;
  private readonly batcher: Batcher;
  private readonly spool: Spool;
  private readonly queue: SpoolRecord[] = [];
  private inflight: AbortController | null = null;
  private running = false;
  private stopped = false;
  private closing = false;
  private retryDelay: number;
  private retryAt = 0;
  private retryTimer: unknown = null;
  private readonly attempts = new Map<string, number>();
  /**
   * Blocks whose insert was tried and may have landed. Only these (and the spool's head after a
   * start, whose history is unknown) need a ledger lookup before replay: a block that was never
   * sent cannot be in ClickHouse, and only the spool's head can ever have been sent unacked.
   */
  private readonly tried = new Set<string>();
  private headUnknown: boolean;
  private readonly idleWaiters: Array<() => void> = [];
  private readonly counts = { inserted: 0, spooled: 0, replayed: 0, duplicatesSkipped: 0, dropped: 0, rejectedBatches: 0 };
  private lastError: string | undefined;
  private readonly maxQueued: number;
  private readonly retryMin: number;
  private readonly retryMax: number;
  private readonly maxAttempts: number;

  constructor(private readonly o: ClickHouseExporterOptions) {
    this.clock = o.clock ?? systemClock;
    this.maxQueued = o.maxQueuedBlocks ?? 32;
    this.retryMin = o.retryMinMs ?? 250;
    this.retryMax = o.retryMaxMs ?? 5000;
    this.maxAttempts = o.maxBlockAttempts ?? 5;
    this.retryDelay = this.retryMin;
    this.spool = new Spool({ dir: o.spoolDir, maxBytes: o.spoolMaxBytes });
    this.headUnknown = !this.spool.isEmpty();
    this.batcher = new Batcher({ maxRows: o.batchMaxRows, maxMs: o.batchMaxMs, clock: this.clock, onBlock: (t, rows) => this.enqueue(t, rows) });
    if (!this.spool.isEmpty()) {
      o.log?.info({ spooledRows: this.spool.size().rows }, 'telemetry spool holds rows from an earlier run; replaying them');
      this.kick();
    }
  }

  /** export validates the batch and buffers it; it never waits for ClickHouse and never throws. */
  async export(batch: TelemetryBatch): Promise<ExportResult> {
    if (this.stopped) return { code: ExportResultCode.FAILED, error: clickhouseErrors.shutDown() };
    try {
      const rows = toDbRows(batch);
      if (countRows(rows) > 0) this.batcher.add(rows);
      return { code: ExportResultCode.SUCCESS };
    } catch (err) {
      this.counts.rejectedBatches++;
      return { code: ExportResultCode.FAILED, error: err as Error };
    }
  }

  /** forceFlush cuts blocks from everything buffered and waits until each is in ClickHouse or in the spool. */
  async forceFlush(): Promise<void> {
    this.batcher.flush();
    await this.settled();
  }

  /** drain waits (up to timeoutMs) until the spool is replayed too; true when nothing is left. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    this.batcher.flush();
    while (Date.now() < deadline) {
      if (this.queue.length === 0 && this.spool.isEmpty() && !this.running && this.batcher.pendingRows === 0) return true;
      if (!this.spool.isEmpty() && !this.running && this.retryAt <= this.clock.now()) this.kick();
      await new Promise((r) => setTimeout(r, 25));
    }
    return this.queue.length === 0 && this.spool.isEmpty();
  }

  /** shutdown flushes what it can; what ClickHouse did not take stays in the spool for the next start. */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.batcher.flush();
    this.batcher.close();
    await this.settled();
    this.closing = true;
    if (this.retryTimer !== null) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    while (this.running) await new Promise((r) => setTimeout(r, 10));
    if (this.queue.length > 0) this.toSpool(this.queue.splice(0));
    this.spool.close();
  }

  stats(): ExporterStats {
    const s = this.spool.size();
    return {
      ...this.counts,
      bufferedRows: this.batcher.pendingRows,
      queuedBlocks: this.queue.length,
      spoolRows: s.rows,
      spoolBytes: s.bytes,
      state: this.spool.isEmpty() ? 'live' : 'replaying',
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  private enqueue(table: TableName, rows: DbRow[]): void {
    // The block id is the record's, not written into each row: the sink puts it in the block_id column.
    const rec: SpoolRecord = { id: randomUUID(), table, rows };
    if (!this.spool.isEmpty()) {
      this.toSpool([rec]);
    } else {
      this.queue.push(rec);
      // A hung insert must not pile blocks up in memory: abort it; it and the queue go to the spool.
      if (this.queue.length > this.maxQueued && this.inflight) this.inflight.abort();
    }
    this.kick();
  }

  private toSpool(recs: SpoolRecord[]): void {
    try {
      const r = this.spool.append(recs);
      this.counts.spooled += r.spooledRows;
      if (r.droppedRows > 0) {
        this.counts.dropped += r.droppedRows;
        this.o.log?.warn({ droppedRows: r.droppedRows, spoolMaxBytes: this.o.spoolMaxBytes }, 'telemetry spool is full; rows dropped');
      }
    } catch (err) {
      const n = recs.reduce((a, b) => a + b.rows.length, 0);
      this.counts.dropped += n;
      this.lastError = (err as Error).message;
      this.o.log?.error({ err: (err as Error).message, droppedRows: n }, 'telemetry spool write failed; rows dropped');
    }
  }

  private kick(): void {
    if (this.running || this.closing) return;
    this.running = true;
    void this.loop().finally(() => {
      this.running = false;
      this.wakeIdle();
    });
  }

  private async loop(): Promise<void> {
    while (!this.closing) {
      if (!this.spool.isEmpty()) {
        const wait = this.retryAt - this.clock.now();
        if (wait > 0) {
          if (this.retryTimer === null) {
            this.retryTimer = this.clock.setTimeout(() => {
              this.retryTimer = null;
              this.kick();
            }, wait);
          }
          return;
        }
        const rec = this.spool.peek();
        if (!rec) return;
        const outcome = await this.deliver(rec, true);
        if (outcome === 'retry') this.backOff();
        else this.spool.ack();
        this.wakeIdle();
        continue;
      }
      const rec = this.queue.shift();
      if (!rec) return;
      const outcome = await this.deliver(rec, false);
      if (outcome === 'retry') {
        this.toSpool([rec, ...this.queue.splice(0)]);
        this.backOff();
      }
      this.wakeIdle();
    }
  }

  /** deliver tries one block: 'done' (landed, or dropped for good) or 'retry'. */
  private async deliver(rec: SpoolRecord, replay: boolean): Promise<'done' | 'retry'> {
    const ac = new AbortController();
    this.inflight = ac;
    try {
      const mayHaveLanded = replay && (this.headUnknown || this.tried.has(rec.id));
      this.tried.add(rec.id);
      if (mayHaveLanded && (await this.o.sink.has(rec.id, ac.signal))) {
        this.counts.duplicatesSkipped += rec.rows.length;
      } else {
        await this.o.sink.insert(rec, ac.signal);
        if (replay) this.counts.replayed += rec.rows.length;
        else this.counts.inserted += rec.rows.length;
      }
      this.attempts.delete(rec.id);
      this.tried.delete(rec.id);
      if (replay) this.headUnknown = false;
      this.retryDelay = this.retryMin;
      this.retryAt = 0;
      return 'done';
    } catch (err) {
      const e = err as Error & { code?: string };
      this.lastError = e.message;
      const reachability = ac.signal.aborted || (e.code !== undefined && UNREACHABLE_CODES.has(e.code));
      if (!reachability) {
        const n = (this.attempts.get(rec.id) ?? 0) + 1;
        this.attempts.set(rec.id, n);
        if (n >= this.maxAttempts) {
          this.attempts.delete(rec.id);
          this.tried.delete(rec.id);
          if (replay) this.headUnknown = false;
          this.counts.dropped += rec.rows.length;
          this.o.log?.error({ table: rec.table, rows: rec.rows.length, err: e.message }, 'ClickHouse keeps refusing a telemetry block; dropped it');
          return 'done';
        }
      }
      this.o.log?.warn({ table: rec.table, rows: rec.rows.length, err: e.message }, 'telemetry insert failed; spooling and retrying');
      return 'retry';
    } finally {
      this.inflight = null;
    }
  }

  private backOff(): void {
    this.retryAt = this.clock.now() + this.retryDelay;
    this.retryDelay = Math.min(this.retryMax, this.retryDelay * 2);
  }

  private settled(): Promise<void> {
    if (this.queue.length === 0 && !this.liveInflight()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private liveInflight(): boolean {
    return this.running && this.spool.isEmpty() && this.inflight !== null;
  }

  private wakeIdle(): void {
    if (this.queue.length > 0 || this.liveInflight()) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
