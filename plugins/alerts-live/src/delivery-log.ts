import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/** One webhook delivery attempt. */
export interface DeliveryAttempt {
  at: number;
  /** The webhook URL without credentials or query. */
  url: string;
  status: 'firing' | 'resolved';
  uid: string;
  labels: Record<string, string>;
  attempt: number;
  outcome: 'delivered' | 'failed' | 'gave-up';
  httpStatus: number | null;
  error: string | null;
  /** Wait before the next attempt, ms; null when none follows. */
  retryInMs: number | null;
}

/**
 * DeliveryLog keeps the latest attempts in memory (newest first) and appends every attempt as one
 * JSON line to a file in the controller's data dir, so deliveries can be audited after a restart.
 * A file write failure is reported once through onError and never blocks delivery.
 */
export class DeliveryLog {
  private readonly entries: DeliveryAttempt[] = [];
  private fileBroken = false;

  constructor(
    private readonly file: string | null,
    private readonly limit = 500,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {
    if (file) mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  }

  record(a: DeliveryAttempt): void {
    this.entries.unshift(a);
    if (this.entries.length > this.limit) this.entries.length = this.limit;
    if (!this.file) return;
    try {
      appendFileSync(this.file, `${JSON.stringify(a)}\n`, { mode: 0o600 });
      this.fileBroken = false;
    } catch (err) {
      if (!this.fileBroken) this.onError(err as Error);
      this.fileBroken = true;
    }
  }

  list(limit = this.limit): DeliveryAttempt[] {
    return this.entries.slice(0, limit);
  }
}
