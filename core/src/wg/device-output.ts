/**
 * DeviceOutput forwards what wireguard-go prints (its logger writes to stdout, Go's runtime and
 * start-up errors to stderr) into the agent's log, one entry a line, at most `maxLines` a window:
 * a device failing in a loop (a TUN write error every packet) must not flood the log. What the
 * limit holds back is counted and said once, when the window ends or the process exits.
 */
import type { Logger } from '../log/logger';

export interface DeviceOutputOptions {
  /** Lines logged a window, across both streams (default 20). */
  maxLines?: number;
  /** Window length, ms (default 60 s). */
  windowMs?: number;
  now?: () => number;
}

export type DeviceStream = 'stdout' | 'stderr';

/** A line wireguard-go prints that says nothing: blank, or the box of its kernel-module banner. */
const NOISE = /^\s*$|[│┌└┐┘─]/;
/** A partial line longer than this is logged as it is (a line without a newline must not grow unbounded). */
const MAX_LINE = 2_000;

export class DeviceOutput {
  private readonly maxLines: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly partial: Record<DeviceStream, string> = { stdout: '', stderr: '' };
  private windowStart: number;
  private logged = 0;
  private suppressed = 0;

  constructor(
    private readonly log: Logger | undefined,
    private readonly iface: string,
    opts: DeviceOutputOptions = {},
  ) {
    this.maxLines = opts.maxLines ?? 20;
    this.windowMs = opts.windowMs ?? 60_000;
    this.now = opts.now ?? Date.now;
    this.windowStart = this.now();
  }

  /** write takes a chunk of one stream; complete lines are logged (or counted), the rest kept. */
  write(stream: DeviceStream, chunk: string): void {
    const lines = (this.partial[stream] + chunk).split('\n');
    let rest = lines.pop()!;
    if (rest.length > MAX_LINE) {
      lines.push(rest);
      rest = '';
    }
    this.partial[stream] = rest;
    for (const line of lines) this.line(stream, line);
  }

  /** end logs what is left: unfinished lines and the count the limit held back. */
  end(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const rest = this.partial[stream];
      this.partial[stream] = '';
      if (rest !== '') this.line(stream, rest);
    }
    this.reportSuppressed();
  }

  private line(stream: DeviceStream, raw: string): void {
    if (NOISE.test(raw)) return;
    const t = this.now();
    if (t - this.windowStart >= this.windowMs) {
      this.reportSuppressed();
      this.windowStart = t;
      this.logged = 0;
    }
    if (this.logged >= this.maxLines) {
      this.suppressed++;
      return;
    }
    this.logged++;
    this.log?.warn({ iface: this.iface, stream, line: raw.trim() }, 'wireguard-go');
  }

  private reportSuppressed(): void {
    if (this.suppressed === 0) return;
    this.log?.warn(
      { iface: this.iface, suppressed: this.suppressed, windowSeconds: this.windowMs / 1000 },
      `wireguard-go printed ${this.suppressed} more lines; at most ${this.maxLines} are logged every ${this.windowMs / 1000} s`,
    );
    this.suppressed = 0;
  }
}
