/**
 * ExitReporter tells the controller which exit node this node uses (`trellis up --exit-node`): the
 * one chosen, its fallback, the one in use and why the chosen one is not. It posts on every connect
 * (forget, then report) and whenever any of it changes (report after each applied map); a report
 * equal to the last one the controller took is not sent again. Failures are retried.
 */
import type { Logger } from 'pino';
import type { ExitUseRequest } from '../wire';
import { isRefusal } from './controller-client';

export interface ExitReporterOptions {
  /** The exit node use now; null when the node chose none. */
  state: () => ExitUseRequest | null;
  post: (body: ExitUseRequest) => Promise<void>;
  log: Logger;
  /** True while the agent stops or is revoked: nothing is sent. */
  idle: () => boolean;
  retryMs?: number;
}

export class ExitReporter {
  private sent: string | null = null;
  private run: Promise<void> | null = null;
  private again = false;
  private retry: NodeJS.Timeout | null = null;
  private refused = false;

  constructor(private readonly o: ExitReporterOptions) {}

  get pending(): Promise<void> | null {
    return this.run;
  }

  /** forget: the controller (a new connection, maybe a restarted controller) has to hear it again. */
  forget(): void {
    this.sent = null;
  }

  /** report posts the state when it differs from the last one sent (coalesced with one running). */
  report(): Promise<void> {
    if (this.refused || this.o.idle()) return Promise.resolve();
    if (this.run) {
      this.again = true;
      return this.run;
    }
    this.run = (async () => {
      do {
        this.again = false;
        const state = this.o.state();
        if (!state) return;
        const key = JSON.stringify(state);
        if (key === this.sent) continue;
        try {
          await this.o.post(state);
          this.sent = key;
        } catch (err) {
          if (isRefusal(err) && (err.status === 404 || err.status === 400)) {
            // A controller from before exit reports does not know the route (404): stop asking it.
            this.refused = true;
            this.o.log.warn({ err: err.message }, 'the controller refused the exit node report; it will not be sent again');
            return;
          }
          this.o.log.warn({ err: (err as Error).message }, 'could not report the exit node in use; will retry');
          this.schedule();
          return;
        }
      } while (this.again && !this.o.idle());
    })().finally(() => (this.run = null));
    return this.run;
  }

  private schedule(): void {
    if (this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.report();
    }, this.o.retryMs ?? 2_000);
    this.retry.unref();
  }

  stop(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
  }
}
