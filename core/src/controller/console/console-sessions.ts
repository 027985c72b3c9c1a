import { createHash, randomBytes } from 'node:crypto';

export interface ConsoleSessionOptions {
  /** A session ends this long after login, however active. Default 12 h. */
  maxAgeMs?: number;
  /** A session ends after this long without a request. Default 1 h. */
  idleMs?: number;
  /** At most this many live sessions; the least recently used is dropped beyond it. Default 1000. */
  maxSessions?: number;
  clock?: () => number;
}

interface Session {
  createdAt: number;
  lastUsedAt: number;
}

export const CONSOLE_COOKIE = 'trellis_console';

/**
 * ConsoleSessions are the web console's server-side logins: the cookie carries a random 256-bit id,
 * and only its SHA-256 is kept, so a memory dump does not yield usable cookies. Sessions end on
 * logout, after maxAgeMs, or after idleMs without use; they do not survive a controller restart.
 */
export class ConsoleSessions {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly opts: ConsoleSessionOptions = {}) {}

  private now(): number {
    return (this.opts.clock ?? Date.now)();
  }

  private static key(id: string): string {
    return createHash('sha256').update(id).digest('hex');
  }

  get maxAgeMs(): number {
    return this.opts.maxAgeMs ?? 12 * 3600_000;
  }

  private get idleMs(): number {
    return this.opts.idleMs ?? 3600_000;
  }

  /** create starts a session and returns the id for the cookie. */
  create(): string {
    const now = this.now();
    this.purge(now);
    const max = this.opts.maxSessions ?? 1000;
    while (this.sessions.size >= max) {
      let oldestKey: string | null = null;
      let oldest = Infinity;
      for (const [k, s] of this.sessions) if (s.lastUsedAt < oldest) [oldest, oldestKey] = [s.lastUsedAt, k];
      if (oldestKey === null) break;
      this.sessions.delete(oldestKey);
    }
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(ConsoleSessions.key(id), { createdAt: now, lastUsedAt: now });
    return id;
  }

  /** valid says whether the id names a live session, and marks it used (sliding the idle timeout). */
  valid(id: string | undefined, touch = true): boolean {
    if (!id || !/^[A-Za-z0-9_-]{43}$/.test(id)) return false;
    const k = ConsoleSessions.key(id);
    const s = this.sessions.get(k);
    if (!s) return false;
    const now = this.now();
    if (now - s.createdAt >= this.maxAgeMs || now - s.lastUsedAt >= this.idleMs) {
      this.sessions.delete(k);
      return false;
    }
    if (touch) s.lastUsedAt = now;
    return true;
  }

  destroy(id: string | undefined): void {
    if (id) this.sessions.delete(ConsoleSessions.key(id));
  }

  size(): number {
    this.purge(this.now());
    return this.sessions.size;
  }

  private purge(now: number): void {
    for (const [k, s] of this.sessions) {
      if (now - s.createdAt >= this.maxAgeMs || now - s.lastUsedAt >= this.idleMs) this.sessions.delete(k);
    }
  }
}

/** sessionIdFrom reads the console cookie out of a Cookie header. */
export function sessionIdFrom(cookieHeader: string | undefined): string | undefined {
  for (const part of (cookieHeader ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    if (part.slice(0, i).trim() === CONSOLE_COOKIE) return part.slice(i + 1).trim();
  }
  return undefined;
}
