/**
 * AuditExport follows the audit log and hands every new entry, in seq order, to the onAuditEvents
 * hooks (exporters such as ClickHouse) and to the JSON-lines file sink. It reads the store rather
 * than listening to appends, so entries written inside store transactions (enrolment, revocation,
 * policy pushes) are exported like any other. The file sink resumes after the last seq it holds.
 */
import type { Logger } from '../log/logger';
import type { HookRunner } from '../plugins/hook-runner';
import type { Store } from '../store/store';
import type { AuditEvent } from '../wire';
import type { AuditFileSink } from './audit-file-sink';

export interface AuditExportOptions {
  store: Store;
  hooks: HookRunner;
  sink: AuditFileSink | null;
  log: Logger;
  /** How often the log is read, ms. Default 1000. */
  intervalMs?: number;
}

const PAGE = 1000;

export class AuditExport {
  private hookCursor = 0;
  private sinkCursor = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private exported = 0;

  constructor(private readonly o: AuditExportOptions) {}

  /** start exports from the current head on (the file sink: from where its file ends). */
  async start(): Promise<void> {
    const head = (await this.o.store.auditHead())?.seq ?? 0;
    this.hookCursor = head;
    this.sinkCursor = this.o.sink ? Math.min(head, this.o.sink.lastSeq() ?? 0) : head;
    if (!this.wanted()) return;
    this.timer = setInterval(() => void this.tick(), this.o.intervalMs ?? 1000);
    this.timer.unref();
    await this.tick();
  }

  private wanted(): boolean {
    return this.o.sink !== null || this.o.hooks.has('onAuditEvents');
  }

  /** Entries handed to exporters and the file since start. */
  get count(): number {
    return this.exported;
  }

  /** tick exports what was appended since the last tick; one runs at a time. */
  tick(): Promise<void> {
    if (!this.wanted()) return Promise.resolve();
    this.running ??= this.exportNew().finally(() => (this.running = null));
    return this.running;
  }

  private async exportNew(): Promise<void> {
    const sink = this.o.sink;
    try {
      while (sink && this.sinkCursor < this.hookCursor) {
        const page = await this.o.store.readAuditPage(this.sinkCursor, PAGE);
        const upTo = page.filter((e) => e.seq <= this.hookCursor);
        if (upTo.length === 0) break;
        await sink.write(upTo);
        this.sinkCursor = upTo.at(-1)!.seq;
      }
      for (;;) {
        const page = await this.o.store.readAuditPage(this.hookCursor, PAGE);
        if (page.length === 0) break;
        await this.deliver(page);
        this.hookCursor = page.at(-1)!.seq;
        if (sink) this.sinkCursor = this.hookCursor;
        this.exported += page.length;
        if (page.length < PAGE) break;
      }
    } catch (err) {
      this.o.log.error({ err }, 'audit export failed; retrying on the next tick');
    }
  }

  private async deliver(page: AuditEvent[]): Promise<void> {
    if (this.o.sink) await this.o.sink.write(page);
    if (this.o.hooks.has('onAuditEvents')) {
      await this.o.hooks.runParallel('onAuditEvents', page.map((e) => ({ seq: e.seq, at: e.at, action: e.action, actor: e.actor, target: e.target, details: e.details, hash: e.hash })));
    }
  }

  /** close exports what is left and stops. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    await this.tick();
  }
}
