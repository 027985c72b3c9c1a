/**
 * Batcher gathers rows per table and hands them on as insert blocks: a table's block goes as soon
 * as it holds maxRows rows, and everything buffered goes maxMs after the oldest buffered row.
 */
import type { Clock } from './clock';
import type { DbRow, RowsByTable, TableName } from './rows';
import { TABLES } from './rows';

export interface BatcherOptions {
  maxRows: number;
  maxMs: number;
  clock: Clock;
  /** Receives each block in order; must not throw. */
  onBlock: (table: TableName, rows: DbRow[]) => void;
}

export class Batcher {
  private readonly buffers = new Map<TableName, DbRow[]>();
  private timer: unknown = null;
  private buffered = 0;

  constructor(private readonly o: BatcherOptions) {}

  /** Rows waiting for their block. */
  get pendingRows(): number {
    return this.buffered;
  }

  add(rows: RowsByTable): void {
    for (const table of TABLES) {
      const incoming = rows[table];
      if (!incoming || incoming.length === 0) continue;
      let buf = this.buffers.get(table);
      if (!buf) this.buffers.set(table, (buf = []));
      for (const r of incoming) {
        buf.push(r);
        this.buffered++;
        if (buf.length >= this.o.maxRows) {
          this.buffered -= buf.length;
          this.o.onBlock(table, buf);
          this.buffers.set(table, (buf = []));
        }
      }
    }
    if (this.buffered === 0) this.disarm();
    else if (this.timer === null) this.timer = this.o.clock.setTimeout(() => this.onTimer(), this.o.maxMs);
  }

  /** flush hands on every buffered row now, one block per table. */
  flush(): void {
    this.disarm();
    for (const table of TABLES) {
      const buf = this.buffers.get(table);
      if (buf && buf.length > 0) {
        this.buffers.set(table, []);
        this.buffered -= buf.length;
        this.o.onBlock(table, buf);
      }
    }
  }

  close(): void {
    this.disarm();
  }

  private onTimer(): void {
    this.timer = null;
    this.flush();
  }

  private disarm(): void {
    if (this.timer !== null) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
