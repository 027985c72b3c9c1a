/**
 * RouteReporter tells the controller what this node advertises as a gateway (`trellis up
 * --advertise-routes`, `--advertise-exit`) and the health of its route checks: on every connect
 * (a restarted controller may have lost the health), and at once when a check changes. A refusal
 * (bad or conflicting route) is kept as lastError and not retried; an outage is retried.
 */
import type { Logger } from 'pino';
import type { RoutesRequest, RoutesResponse } from '../wire';
import { isRefusal } from './controller-client';

export interface RouteAdvertisementOptions {
  routes: Array<{ prefix: string; check: string | null }>;
  priority: number;
  exit: boolean;
}

export interface RouteReporterOptions {
  advertisement: RouteAdvertisementOptions;
  health: () => Record<string, boolean>;
  post: (body: RoutesRequest) => Promise<RoutesResponse>;
  log: Logger;
  idle: () => boolean;
  retryMs?: number;
}

export class RouteReporter {
  private run: Promise<void> | null = null;
  private again = false;
  private retry: NodeJS.Timeout | null = null;
  private refused: Error | null = null;
  private last: RoutesResponse | null = null;

  constructor(private readonly o: RouteReporterOptions) {}

  get pending(): Promise<void> | null {
    return this.run;
  }
  /** The controller's refusal of the advertisement, if it refused it. */
  get lastError(): string | null {
    return this.refused?.message ?? null;
  }
  /** The routes as the controller stored them after the last report. */
  get stored(): RoutesResponse['routes'] {
    return this.last?.routes ?? [];
  }

  private body(): RoutesRequest {
    const ad = this.o.advertisement;
    return { routes: ad.routes, priority: ad.priority, exit: ad.exit, health: this.o.health() };
  }

  /**
   * first posts the advertisement once and throws when the controller refuses it, so `trellis up`
   * stops with the controller's message; an unreachable controller is not an error here.
   */
  async first(): Promise<void> {
    try {
      this.last = await this.o.post(this.body());
      this.o.log.info({ routes: this.last.routes }, 'advertised routes');
    } catch (err) {
      if (isRefusal(err)) {
        this.refused = err;
        throw err;
      }
      this.o.log.warn({ err: (err as Error).message }, 'could not advertise routes yet; will retry');
      this.schedule();
    }
  }

  /** report posts now (coalesced with one running), unless the controller refused the advertisement. */
  report(): Promise<void> {
    if (this.refused || this.o.idle()) return Promise.resolve();
    if (this.run) {
      this.again = true;
      return this.run;
    }
    this.run = (async () => {
      do {
        this.again = false;
        try {
          this.last = await this.o.post(this.body());
        } catch (err) {
          if (isRefusal(err)) {
            this.refused = err;
            this.o.log.error({ err: err.message }, 'the controller refused the advertised routes; fix the flags and restart `trellis up`');
            return;
          }
          this.o.log.warn({ err: (err as Error).message }, 'could not report routes; will retry');
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
