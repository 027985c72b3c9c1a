import { randomUUID } from 'node:crypto';
import type { PluginTelemetryRow, ProbeRow, RelayRow, TunnelRow } from '../../api/telemetry';

/** A batch waiting to be delivered; its id never changes, so a retry is recognised as one. */
export interface PendingBatch {
  batchId: string;
  probes: ProbeRow[];
  tunnels: TunnelRow[];
  relays: RelayRow[];
  /** Rows of agent plugins, by plugin name. */
  plugins: Record<string, PluginTelemetryRow[]>;
  /** Times it was handed out by next() (attempts). */
  attempts: number;
}

export interface TelemetryBufferOptions {
  /** Rows kept at most (open rows plus sealed batches); past it the oldest are dropped. Default 50 000. */
  maxRows?: number;
  /** Rows per batch at most, to stay under the route's body limit. Default 5000. */
  maxBatchRows?: number;
  newId?: () => string;
}

export interface TelemetryBufferStats {
  /** Rows waiting (open + sealed). */
  queuedRows: number;
  queuedBatches: number;
  /** Rows dropped because the backlog was full. */
  droppedRows: number;
  deliveredBatches: number;
  deliveredRows: number;
}

type Rows = Pick<PendingBatch, 'probes' | 'tunnels' | 'relays' | 'plugins'>;

/** The row lists of a batch, oldest kind first: probes (the most numerous), tunnels, relay samples, then each plugin's. */
const listsOf = (b: Rows): unknown[][] => [b.probes, b.tunnels, b.relays, ...Object.keys(b.plugins).sort().map((k) => b.plugins[k]!)];
const rowsOf = (b: Rows) => listsOf(b).reduce((n, l) => n + l.length, 0);

/**
 * TelemetryBuffer collects rows as they happen and seals them into batches, oldest first. It is
 * bounded: when full it drops the oldest rows (never those of the batch being sent) and counts
 * them. Delivery is in order: next() is always the oldest batch until it is acked.
 */
export class TelemetryBuffer {
  private open: Rows = { probes: [], tunnels: [], relays: [], plugins: {} };
  private readonly sealed: PendingBatch[] = [];
  private rows = 0;
  private inflight: string | null = null;
  private readonly counts = { droppedRows: 0, deliveredBatches: 0, deliveredRows: 0 };
  readonly maxRows: number;
  readonly maxBatchRows: number;
  private readonly newId: () => string;

  constructor(opts: TelemetryBufferOptions = {}) {
    this.maxRows = opts.maxRows ?? 50_000;
    this.maxBatchRows = opts.maxBatchRows ?? 5000;
    this.newId = opts.newId ?? randomUUID;
    if (!(Number.isInteger(this.maxRows) && this.maxRows >= 1)) throw new RangeError(`maxRows must be a positive integer, got ${opts.maxRows}`);
    if (!(Number.isInteger(this.maxBatchRows) && this.maxBatchRows >= 1)) throw new RangeError(`maxBatchRows must be a positive integer, got ${opts.maxBatchRows}`);
  }

  addProbe(row: ProbeRow): void {
    this.open.probes.push(row);
    this.added(1);
  }

  addTunnels(rows: readonly TunnelRow[]): void {
    for (const r of rows) this.open.tunnels.push(r);
    this.added(rows.length);
  }

  /** addRelay queues one sample of the node's relay forwarder. */
  addRelay(row: RelayRow): void {
    this.open.relays.push(row);
    this.added(1);
  }

  /** addPluginRows queues rows a plugin contributed, under its name. */
  addPluginRows(plugin: string, rows: readonly PluginTelemetryRow[]): void {
    const list = (this.open.plugins[plugin] ??= []);
    for (const r of rows) list.push(r);
    this.added(rows.length);
  }

  private added(n: number): void {
    this.rows += n;
    if (rowsOf(this.open) >= this.maxBatchRows) this.seal();
    if (this.rows > this.maxRows) this.dropOldest(this.rows - this.maxRows);
  }

  /** seal closes the open rows into a batch (several if over maxBatchRows); nothing happens when empty. */
  seal(): void {
    while (rowsOf(this.open) > 0) {
      let room = this.maxBatchRows;
      const take = <T>(list: T[]): T[] => {
        const part = list.splice(0, room);
        room -= part.length;
        return part;
      };
      const probes = take(this.open.probes);
      const tunnels = take(this.open.tunnels);
      const relays = take(this.open.relays);
      const plugins: Record<string, PluginTelemetryRow[]> = {};
      for (const name of Object.keys(this.open.plugins).sort()) {
        const part = take(this.open.plugins[name]!);
        if (part.length > 0) plugins[name] = part;
        if (this.open.plugins[name]!.length === 0) delete this.open.plugins[name];
      }
      this.sealed.push({ batchId: this.newId(), probes, tunnels, relays, plugins, attempts: 0 });
    }
  }

  /** next is the oldest sealed batch (the same object, with the same id, until ack), or null. */
  next(): PendingBatch | null {
    const b = this.sealed[0] ?? null;
    if (b) {
      b.attempts++;
      this.inflight = b.batchId;
    }
    return b;
  }

  /** ack removes a delivered batch. */
  ack(batchId: string): void {
    const n = this.remove(batchId);
    if (n === null) return;
    this.counts.deliveredBatches++;
    this.counts.deliveredRows += n;
  }

  /** release marks the in-flight batch as no longer being sent (the attempt failed); it stays first. */
  release(): void {
    this.inflight = null;
  }

  /** discard removes a batch the controller refused as malformed (retrying cannot help); its rows count as dropped. */
  discard(batchId: string): void {
    const n = this.remove(batchId);
    if (n !== null) this.counts.droppedRows += n;
  }

  /** remove takes a sealed batch out (it is no longer in flight) and returns its row count; null when it is not queued. */
  private remove(batchId: string): number | null {
    if (this.inflight === batchId) this.inflight = null;
    const i = this.sealed.findIndex((b) => b.batchId === batchId);
    if (i < 0) return null;
    const [b] = this.sealed.splice(i, 1);
    const n = rowsOf(b!);
    this.rows -= n;
    return n;
  }

  private dropOldest(n: number): void {
    let left = n;
    for (let i = 0; i < this.sealed.length && left > 0; ) {
      const b = this.sealed[i]!;
      if (b.batchId === this.inflight) {
        i++;
        continue;
      }
      const size = rowsOf(b);
      if (size <= left) {
        this.sealed.splice(i, 1);
        left -= size;
        continue;
      }
      // Trim this batch's oldest rows: probes first (they are the most numerous), then tunnels, plugin rows.
      for (const list of listsOf(b)) {
        const k = Math.min(left, list.length);
        list.splice(0, k);
        left -= k;
      }
      i++;
    }
    for (const list of listsOf(this.open)) {
      if (left <= 0) break;
      const k = Math.min(left, list.length);
      list.splice(0, k);
      left -= k;
    }
    const dropped = n - left;
    this.rows -= dropped;
    this.counts.droppedRows += dropped;
  }

  stats(): TelemetryBufferStats {
    return { queuedRows: this.rows, queuedBatches: this.sealed.length, ...this.counts };
  }
}
