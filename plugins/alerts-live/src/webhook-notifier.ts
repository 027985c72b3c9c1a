import { createHmac } from 'node:crypto';
import type { PluginLogger } from '@trellis/core/api';
import type { AlertEvent } from './alert-state';
import { redactUrl, type RetryPolicy, type WebhookTarget } from './config';
import type { DeliveryLog } from './delivery-log';

export interface WebhookNotifierOptions {
  webhooks: WebhookTarget[];
  retry: RetryPolicy;
  log: DeliveryLog;
  logger?: PluginLogger;
  clock?: () => number;
}

/** Statuses worth another attempt; any other 4xx means the receiver refused the body for good. */
const retryable = (status: number) => status >= 500 || status === 408 || status === 429;

/** backoffMs is the wait after failed attempt n (1-based): initial × 2^(n−1), capped. */
export function backoffMs(retry: RetryPolicy, attempt: number): number {
  return Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (attempt - 1));
}

/**
 * WebhookNotifier posts alert events as JSON to every configured webhook. Each webhook has its own
 * queue, so a firing and its resolve arrive in order, and one slow receiver never holds another
 * back. Failures are retried with exponential backoff up to maxAttempts; every attempt is logged.
 */
export class WebhookNotifier {
  private readonly queues: Array<Promise<void>>;
  private readonly abort = new AbortController();

  constructor(private readonly o: WebhookNotifierOptions) {
    this.queues = o.webhooks.map(() => Promise.resolve());
  }

  notify(event: AlertEvent): void {
    if (this.abort.signal.aborted) return;
    const body = JSON.stringify(event);
    this.o.webhooks.forEach((w, i) => {
      this.queues[i] = this.queues[i]!.then(() => this.deliver(w, event, body));
    });
  }

  /** idle resolves once every queued notification was delivered or given up. */
  async idle(): Promise<void> {
    let before: Array<Promise<void>>;
    do {
      before = [...this.queues];
      await Promise.all(before);
    } while (before.some((p, i) => p !== this.queues[i]));
  }

  /** close abandons waiting retries (the controller is stopping). */
  close(): void {
    this.abort.abort();
  }

  private now(): number {
    return (this.o.clock ?? Date.now)();
  }

  private async deliver(w: WebhookTarget, event: AlertEvent, body: string): Promise<void> {
    const { retry } = this.o;
    const url = redactUrl(w.url);
    for (let attempt = 1; attempt <= retry.maxAttempts; attempt++) {
      if (this.abort.signal.aborted) return;
      let httpStatus: number | null = null;
      let error: string | null = null;
      try {
        const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'trellis-alerts-live', 'x-trellis-alert-status': event.status };
        if (w.secret) headers['x-trellis-signature'] = `sha256=${createHmac('sha256', w.secret).update(body).digest('hex')}`;
        const res = await fetch(w.url, { method: 'POST', headers, body, signal: AbortSignal.any([AbortSignal.timeout(retry.timeoutMs), this.abort.signal]) });
        httpStatus = res.status;
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          this.o.log.record(this.entry(url, event, attempt, 'delivered', httpStatus, null, null));
          return;
        }
        error = `HTTP ${res.status}`;
      } catch (err) {
        error = (err as Error).name === 'TimeoutError' ? `no answer within ${retry.timeoutMs} ms` : ((err as { cause?: Error }).cause?.message ?? (err as Error).message);
      }
      const last = attempt === retry.maxAttempts || (httpStatus !== null && !retryable(httpStatus));
      const wait = last ? null : backoffMs(retry, attempt);
      this.o.log.record(this.entry(url, event, attempt, last ? 'gave-up' : 'failed', httpStatus, error, wait));
      if (last) {
        this.o.logger?.warn({ url, uid: event.alert.uid, status: event.status, attempts: attempt, error }, 'alert webhook delivery gave up');
        return;
      }
      await this.sleep(wait!);
    }
  }

  private entry(url: string, event: AlertEvent, attempt: number, outcome: 'delivered' | 'failed' | 'gave-up', httpStatus: number | null, error: string | null, retryInMs: number | null) {
    return { at: this.now(), url, status: event.status, uid: event.alert.uid, labels: event.alert.labels, attempt, outcome, httpStatus, error, retryInMs };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.abort.signal;
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
