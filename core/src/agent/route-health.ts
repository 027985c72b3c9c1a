/**
 * RouteHealth: a gateway's check of the destinations behind it. Each `--route-check` target is
 * pinged every interval; MISSES_UNHEALTHY misses in a row make the route unhealthy, one answer
 * makes it healthy again. Changes are reported at once (onChange), so the controller can move the
 * route to another gateway whose LAN side still works.
 */
import { execFile } from 'node:child_process';

export const ROUTE_CHECK_INTERVAL_MS = 500;
/** The range `trellis up --route-check-interval` accepts, ms. */
export const MIN_ROUTE_CHECK_INTERVAL_MS = 100;
export const MAX_ROUTE_CHECK_INTERVAL_MS = 60_000;
export const MISSES_UNHEALTHY = 2;

/** A probe answers true when the target replied within timeoutMs. */
export type RouteProbe = (target: string, timeoutMs: number) => Promise<boolean>;

/** pingProbe sends one ICMP echo with the system ping (IPv4 or IPv6). */
export const pingProbe: RouteProbe = (target, timeoutMs) =>
  new Promise((resolve) => {
    const waitS = (Math.max(100, timeoutMs) / 1000).toFixed(1);
    execFile('ping', ['-n', '-q', '-c', '1', '-W', waitS, target], { timeout: timeoutMs + 1000 }, (err) => resolve(!err));
  });

export interface RouteHealthOptions {
  /** prefix -> check target */
  checks: ReadonlyArray<{ prefix: string; check: string }>;
  onChange: () => void;
  probe?: RouteProbe;
  intervalMs?: number;
}

export class RouteHealth {
  private readonly state = new Map<string, { ok: boolean | null; misses: number }>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private readonly probe: RouteProbe;
  private readonly intervalMs: number;

  constructor(private readonly o: RouteHealthOptions) {
    this.probe = o.probe ?? pingProbe;
    this.intervalMs = o.intervalMs ?? ROUTE_CHECK_INTERVAL_MS;
    for (const c of o.checks) this.state.set(c.prefix, { ok: null, misses: 0 });
  }

  /** health: prefix -> healthy, for checked prefixes that have a verdict. */
  health(): Record<string, boolean> {
    const out: Record<string, boolean> = {};
    for (const [prefix, s] of this.state) if (s.ok !== null) out[prefix] = s.ok;
    return out;
  }

  /** checkOnce runs every check now (the first verdicts, before the first report). */
  async checkOnce(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      let changed = false;
      await Promise.all(
        this.o.checks.map(async (c) => {
          const ok = await this.probe(c.check, Math.max(200, Math.round(this.intervalMs * 0.8)));
          const s = this.state.get(c.prefix)!;
          const before = s.ok;
          if (ok) {
            s.misses = 0;
            s.ok = true;
          } else {
            s.misses++;
            if (s.misses >= MISSES_UNHEALTHY || s.ok === null) s.ok = false;
          }
          if (before !== s.ok) changed = true;
        }),
      );
      if (changed) this.o.onChange();
    } finally {
      this.running = false;
    }
  }

  start(): void {
    if (this.timer || this.o.checks.length === 0) return;
    this.timer = setInterval(() => void this.checkOnce(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
