/**
 * AuditFileSink writes audit entries as JSON lines for a SIEM to pick up, one entry per line with
 * its seq and chain hash. When the file would pass maxBytes it is rotated: file → file.1 → … →
 * file.N (the oldest dropped). Files are 0600; the directory is created 0700 when missing.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AuditEvent } from '../wire';

export interface AuditFileSinkOptions {
  path: string;
  maxBytes: number;
  /** Rotated files kept. */
  keep: number;
}

export class AuditFileSink {
  private size: number;

  constructor(private readonly o: AuditFileSinkOptions) {
    mkdirSync(dirname(o.path), { recursive: true, mode: 0o700 });
    this.size = existsSync(o.path) ? statSync(o.path).size : 0;
  }

  get path(): string {
    return this.o.path;
  }

  /** lastSeq is the seq of the newest entry in the current file (where to resume), or null. */
  lastSeq(): number | null {
    if (!existsSync(this.o.path)) return null;
    const lines = readFileSync(this.o.path, 'utf8').trimEnd().split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      try {
        const seq = (JSON.parse(lines[i]!) as { seq?: unknown }).seq;
        if (typeof seq === 'number') return seq;
      } catch {
        // a torn last line (crash while writing): look further up
      }
    }
    return null;
  }

  private rotate(): void {
    rmSync(`${this.o.path}.${this.o.keep}`, { force: true });
    for (let i = this.o.keep - 1; i >= 1; i--) {
      if (existsSync(`${this.o.path}.${i}`)) renameSync(`${this.o.path}.${i}`, `${this.o.path}.${i + 1}`);
    }
    renameSync(this.o.path, `${this.o.path}.1`);
    this.size = 0;
  }

  /** write appends the entries in order, rotating between lines when the file is full. */
  async write(events: readonly AuditEvent[]): Promise<void> {
    let chunk = '';
    const flush = async () => {
      if (chunk === '') return;
      await appendFile(this.o.path, chunk, { mode: 0o600 });
      this.size += Buffer.byteLength(chunk);
      chunk = '';
    };
    for (const e of events) {
      const line = JSON.stringify({ seq: e.seq, at: new Date(e.at).toISOString(), action: e.action, actor: e.actor, target: e.target, details: e.details, prevHash: e.prevHash, hash: e.hash }) + '\n';
      const bytes = Buffer.byteLength(line);
      if (this.size + Buffer.byteLength(chunk) + bytes > this.o.maxBytes && this.size + chunk.length > 0) {
        await flush();
        if (this.size > 0) this.rotate();
      }
      chunk += line;
    }
    await flush();
  }
}
