/**
 * Spool is the bounded on-disk queue insert blocks wait in while ClickHouse is away. Blocks are
 * appended as JSON lines to numbered segment files (fsync after each append) and read back in the
 * order they were written. A cursor file records how far replay got; a crash between an insert
 * and the cursor write replays that block again, which the ingest ledger turns into a no-op.
 * The bound counts unreplayed bytes; a block that would cross it is dropped whole and counted.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, truncateSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { clickhouseErrors } from './errors';
import type { DbRow, TableName } from './rows';

export interface SpoolRecord {
  /** The insert block id: the ledger key and the INSERT's query_id. */
  id: string;
  table: TableName;
  rows: DbRow[];
}

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  /** A segment is closed once it reaches this size; default min(8 MiB, maxBytes / 4). */
  segmentBytes?: number;
}

export interface SpoolAppendResult {
  spooledRows: number;
  droppedRows: number;
}

interface Cursor {
  segment: number;
  offset: number;
}

const SEGMENT = /^seg-(\d{12})\.jsonl$/;
const segName = (n: number) => `seg-${String(n).padStart(12, '0')}.jsonl`;

export class Spool {
  private segments: number[] = [];
  private cursor: Cursor = { segment: 0, offset: 0 };
  /** File size of each segment. */
  private sizes = new Map<number, number>();
  private writeFd: number | null = null;
  private writeSeg = 0;
  private pendingBytes = 0;
  private pendingRows = 0;
  private pendingRecords = 0;
  /** Parsed records of the segment being read, with their end offsets. */
  private readCache: { segment: number; records: Array<{ rec: SpoolRecord; end: number }> } | null = null;
  private readonly segmentBytes: number;

  constructor(private readonly o: SpoolOptions) {
    this.segmentBytes = o.segmentBytes ?? Math.max(4096, Math.min(8 * 1024 * 1024, Math.floor(o.maxBytes / 4)));
    this.open();
  }

  /** Unreplayed blocks, rows and bytes. */
  size(): { records: number; rows: number; bytes: number } {
    return { records: this.pendingRecords, rows: this.pendingRows, bytes: this.pendingBytes };
  }

  isEmpty(): boolean {
    return this.pendingRecords === 0;
  }

  /** append writes blocks in order and fsyncs once; a block past the bound is dropped and counted. */
  append(records: SpoolRecord[]): SpoolAppendResult {
    let spooledRows = 0;
    let droppedRows = 0;
    let wrote = false;
    for (const rec of records) {
      const line = Buffer.from(JSON.stringify(rec) + '\n');
      if (this.pendingBytes + line.length > this.o.maxBytes) {
        droppedRows += rec.rows.length;
        continue;
      }
      const fd = this.writableSegment(line.length);
      try {
        writeSync(fd, line);
      } catch (err) {
        throw clickhouseErrors.spool(this.o.dir, `cannot write segment ${segName(this.writeSeg)}: ${(err as Error).message}`);
      }
      wrote = true;
      this.sizes.set(this.writeSeg, (this.sizes.get(this.writeSeg) ?? 0) + line.length);
      this.pendingBytes += line.length;
      this.pendingRows += rec.rows.length;
      this.pendingRecords++;
      spooledRows += rec.rows.length;
    }
    if (wrote && this.writeFd !== null) fsyncSync(this.writeFd);
    return { spooledRows, droppedRows };
  }

  /** peek returns the oldest unreplayed block without consuming it. */
  peek(): SpoolRecord | undefined {
    const next = this.nextEntry();
    return next?.rec;
  }

  /** ack consumes the block peek returned and persists the cursor. */
  ack(): void {
    const next = this.nextEntry();
    if (!next) return;
    const seg = this.cursor.segment;
    const start = this.cursor.offset;
    this.cursor = { segment: seg, offset: next.end };
    this.pendingBytes -= next.end - start;
    this.pendingRows -= next.rec.rows.length;
    this.pendingRecords--;
    if (next.end >= (this.sizes.get(seg) ?? 0) && seg !== this.writeSeg) {
      this.removeSegment(seg);
    } else if (this.pendingRecords === 0 && seg === this.writeSeg) {
      // Everything replayed: start afresh so the directory does not keep consumed bytes.
      this.closeWriter();
      this.removeSegment(seg);
    }
    this.saveCursor();
  }

  close(): void {
    this.closeWriter();
  }

  private open(): void {
    try {
      mkdirSync(this.o.dir, { recursive: true });
      this.segments = readdirSync(this.o.dir)
        .map((f) => SEGMENT.exec(f))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => Number(m[1]))
        .sort((a, b) => a - b);
    } catch (err) {
      throw clickhouseErrors.spool(this.o.dir, `cannot open the spool directory: ${(err as Error).message}`);
    }
    const cursorFile = join(this.o.dir, 'cursor.json');
    if (existsSync(cursorFile)) {
      try {
        const c = JSON.parse(readFileSync(cursorFile, 'utf8')) as Cursor;
        if (Number.isInteger(c.segment) && Number.isInteger(c.offset)) this.cursor = c;
      } catch {
        this.cursor = { segment: 0, offset: 0 };
      }
    }
    // Segments wholly before the cursor were replayed already.
    for (const s of this.segments.filter((s) => s < this.cursor.segment)) this.removeSegment(s);
    if (this.segments.length > 0 && this.segments[0] !== this.cursor.segment) this.cursor = { segment: this.segments[0], offset: 0 };
    for (const s of this.segments) {
      const path = join(this.o.dir, segName(s));
      const data = readFileSync(path);
      // A crash mid-append leaves a torn last line: cut it off.
      const lastNl = data.lastIndexOf(0x0a);
      const good = lastNl + 1;
      if (good < data.length) truncateSync(path, good);
      this.sizes.set(s, good);
      const from = s === this.cursor.segment ? Math.min(this.cursor.offset, good) : 0;
      for (const { rec, end } of parseLines(data.subarray(0, good), 0)) {
        if (end <= from) continue;
        this.pendingRecords++;
        this.pendingRows += rec.rows.length;
      }
      this.pendingBytes += good - from;
    }
    this.writeSeg = this.segments.length > 0 ? this.segments[this.segments.length - 1] : this.cursor.segment;
  }

  private writableSegment(incoming: number): number {
    const size = this.sizes.get(this.writeSeg) ?? 0;
    if (this.writeFd !== null && size + incoming <= this.segmentBytes) return this.writeFd;
    if (this.writeFd === null && this.segments.includes(this.writeSeg) && size + incoming <= this.segmentBytes) {
      this.writeFd = openSync(join(this.o.dir, segName(this.writeSeg)), 'a');
      return this.writeFd;
    }
    this.closeWriter();
    const next = this.segments.length > 0 ? this.segments[this.segments.length - 1] + 1 : Math.max(1, this.cursor.segment + 1);
    this.writeFd = openSync(join(this.o.dir, segName(next)), 'a');
    this.segments.push(next);
    this.sizes.set(next, 0);
    this.writeSeg = next;
    if (this.pendingRecords === 0 && this.segments.length === 1) this.cursor = { segment: next, offset: 0 };
    return this.writeFd;
  }

  private nextEntry(): { rec: SpoolRecord; end: number } | undefined {
    while (this.pendingRecords > 0) {
      const seg = this.cursor.segment;
      if (!this.segments.includes(seg)) {
        const later = this.segments.find((s) => s > seg);
        if (later === undefined) return undefined;
        this.cursor = { segment: later, offset: 0 };
        continue;
      }
      if (!this.readCache || this.readCache.segment !== seg || (this.readCache.records.at(-1)?.end ?? 0) < (this.sizes.get(seg) ?? 0)) {
        const data = readFileSync(join(this.o.dir, segName(seg))).subarray(0, this.sizes.get(seg));
        this.readCache = { segment: seg, records: parseLines(data, 0) };
      }
      const hit = this.readCache.records.find((r) => r.end > this.cursor.offset);
      if (hit) return hit;
      // Segment exhausted: move on to the next one.
      const later = this.segments.find((s) => s > seg);
      if (later === undefined) return undefined;
      if (seg !== this.writeSeg) this.removeSegment(seg);
      this.cursor = { segment: later, offset: 0 };
    }
    return undefined;
  }

  private removeSegment(seg: number): void {
    try {
      unlinkSync(join(this.o.dir, segName(seg)));
    } catch {
      // already gone
    }
    this.segments = this.segments.filter((s) => s !== seg);
    this.sizes.delete(seg);
    if (this.readCache?.segment === seg) this.readCache = null;
  }

  private saveCursor(): void {
    const file = join(this.o.dir, 'cursor.json');
    writeFileSync(file + '.tmp', JSON.stringify(this.cursor));
    renameSync(file + '.tmp', file);
  }

  private closeWriter(): void {
    if (this.writeFd !== null) {
      try {
        closeSync(this.writeFd);
      } catch {
        // closing twice is harmless
      }
    }
    this.writeFd = null;
  }
}

function parseLines(data: Buffer, base: number): Array<{ rec: SpoolRecord; end: number }> {
  const out: Array<{ rec: SpoolRecord; end: number }> = [];
  let start = 0;
  while (start < data.length) {
    const nl = data.indexOf(0x0a, start);
    if (nl < 0) break;
    try {
      const rec = JSON.parse(data.subarray(start, nl).toString('utf8')) as SpoolRecord;
      if (rec && typeof rec.id === 'string' && Array.isArray(rec.rows)) out.push({ rec, end: base + nl + 1 });
    } catch {
      // a corrupt line is skipped; the rest of the segment is still good
    }
    start = nl + 1;
  }
  return out;
}

/** Exported for tests: the file size of the spool directory's segments. */
export function spoolDiskBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir)
    .filter((f) => SEGMENT.test(f))
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}
