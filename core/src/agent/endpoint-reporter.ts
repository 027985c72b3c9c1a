/**
 * EndpointReporter tells the controller this node's underlay endpoints when they change. The
 * report doubles as a heartbeat and a restarted controller may have lost it, so a reconnect
 * forgets what was reported and reports again. A report carries the addresses (candidate version
 * 1) and, to a controller whose maps carry candidates, the same candidates with their kind and
 * when they were learned (version 2).
 */
import type { Logger } from 'pino';
import type { EndpointCandidate } from '../netmap/types';

/** What one report says: the addresses, best first, and their candidates when the controller takes them. */
export interface EndpointReport {
  endpoints: string[];
  candidates?: EndpointCandidate[];
}

export interface EndpointReporterOptions {
  discover: () => Promise<EndpointReport>;
  post: (report: EndpointReport) => Promise<unknown>;
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
        const r = await this.o.discover();
        const key = JSON.stringify(r);
        if (key === this.reported) return;
        await this.o.post(r);
        this.reported = key;
        this.o.log.info({ endpoints: r.endpoints, ...(r.candidates ? { kinds: r.candidates.map((c) => c.kind) } : {}) }, 'reported endpoints');
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, 'could not report endpoints; will retry');
      }
    })().finally(() => (this.run = null));
    await this.run;
  }
}
