import pg from 'pg';
import type { DeliveredChange, StoreChangeFeed, StoreChangeListener } from '../store-changes';
import { CHANGE_CHANNEL, describePgError } from './pg-database';

/** How often the listening connection is checked, ms: a dead server is noticed within about this. */
const PING_MS = 2_000;
const RETRY_FIRST_MS = 200;
const RETRY_MAX_MS = 5_000;

/** sleep waits ms, or less when signal aborts. */
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/**
 * PgChangeFeed LISTENs on the change channel over one dedicated connection and delivers other
 * store instances' changes (its own origin's are skipped). When the connection breaks it tells the
 * listener (lost), reconnects with backoff, LISTENs again and asks for a resync, since
 * notifications sent meanwhile are gone.
 */
export class PgChangeFeed implements StoreChangeFeed {
  constructor(
    private readonly url: string,
    readonly origin: string,
  ) {}

  async subscribe(listener: StoreChangeListener): Promise<() => Promise<void>> {
    let stopped = false;
    let client: pg.Client | null = null;
    const stop = new AbortController();
    let retryMs = RETRY_FIRST_MS;

    const deliver = (msg: pg.Notification) => {
      if (msg.channel !== CHANGE_CHANNEL || !msg.payload) return;
      let change: DeliveredChange;
      try {
        change = JSON.parse(msg.payload) as DeliveredChange;
      } catch {
        return;
      }
      if (change.origin === this.origin) return;
      listener.change(change);
    };

    /** connect opens a connection and LISTENs; resolves with a promise that settles when it breaks. */
    const connect = async (): Promise<{ broken: Promise<string> }> => {
      const c = new pg.Client({ connectionString: this.url, keepAlive: true, application_name: 'trellis-controller-listen' });
      let broke: (why: string) => void = () => undefined;
      const broken = new Promise<string>((resolve) => (broke = resolve));
      c.on('error', (err) => broke(describePgError(err)));
      c.on('end', () => broke('connection closed'));
      c.on('notification', deliver);
      try {
        await c.connect();
        await c.query(`LISTEN ${CHANGE_CHANNEL}`);
      } catch (err) {
        await c.end().catch(() => undefined);
        throw err;
      }
      client = c;
      const ping = setInterval(() => {
        c.query('SELECT 1').catch((err: unknown) => broke(describePgError(err)));
      }, PING_MS);
      ping.unref();
      void broken.then(() => clearInterval(ping));
      return { broken };
    };

    const first = (await connect()).broken;
    const loop = async (broken: Promise<string>) => {
      for (;;) {
        const why = await Promise.race([broken, new Promise<string>((r) => stop.signal.addEventListener('abort', () => r('stopped'), { once: true }))]);
        const old = client;
        client = null;
        await old?.end().catch(() => undefined);
        if (stopped) return;
        listener.lost?.(why);
        for (;;) {
          await sleep(retryMs, stop.signal);
          retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
          if (stopped) return;
          try {
            broken = (await connect()).broken;
            retryMs = RETRY_FIRST_MS;
            break;
          } catch (err) {
            listener.lost?.(describePgError(err));
          }
        }
        listener.resync(`change notifications resumed after: ${why}`);
      }
    };
    const running = loop(first);
    return async () => {
      stopped = true;
      stop.abort();
      await running;
    };
  }
}
