/**
 * EndpointReporter tells the controller this node's underlay endpoints when they change. The
 * report doubles as a heartbeat and a restarted controller may have lost it, so a reconnect
 * forgets what was reported and reports again.
 */
import type { Logger } from 'pino';

export interface EndpointReporterOptions {
  discover: () => Promise<string[]>;
  post: (endpoints: string[]) => Promise<unknown>;
  log: Logger;
  /** True when nothing should be reported (stopping, or the node was revoked). */
  idle: () => boolean;
}

export class EndpointReporter {
  private reported: string | null = null;
  private run: Promise<void> | null = null;

  constructor(private readonly o: EndpointReporterOptions) {}

  /** The report in progress, for a stop to wait on. */
  get pending(): Promise<void> | null {
    return this.run;
  }

  /** forget makes the next report go out even when the endpoints did not change. */
  forget(): void {
    this.reported = null;
  }

  async report(): Promise<void> {
    if (this.run || this.o.idle()) return;
    this.run = (async () => {
      try {
        const eps = await this.o.discover();
        const key = JSON.stringify(eps);
        if (key === this.reported) return;
        await this.o.post(eps);
        this.reported = key;
        this.o.log.info({ endpoints: eps }, 'reported endpoints');
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, 'could not report endpoints; will retry');
      }
    })().finally(() => (this.run = null));
    await this.run;
  }
}
