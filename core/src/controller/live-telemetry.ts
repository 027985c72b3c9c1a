import type { ProbeRow, TunnelRow } from '../api/telemetry';

/** The latest figures of one path (src → dst), as the live console and alerting read them. */
export interface LivePath {
  src: string;
  dst: string;
  /** Unix ms of the newest row that touched this path. */
  updatedAt: number;
  /** Newest answered probe's RTT, µs; null before the first answer. */
  rttUs: number | null;
  /**
   * Lost fraction over the last `window` probe rows (0..1); null before the first probe row. Agents
   * send rows only for probes sent once the peer had answered (agent/probes/peer-window.ts), so a
   * pair that never connected has no loss figure here, in ClickHouse or in alerts: not 0 %.
   */
  loss: number | null;
  jitterUs: number;
  /** Seconds since the last handshake as of the newest tunnel row; null before the first. */
  handshakeAgeS: number | null;
  up: boolean | null;
  rxBytes: number | null;
  txBytes: number | null;
  /** Highest probe seq seen (probe rows can arrive out of order after a retry). */
  lastSeq: number | null;
  /** How the newest probe went: 'direct' or the relay it used; null before the first probe row. */
  path: string | null;
}

interface PathState extends LivePath {
  /** Unix ms of the newest tunnel row taken (up, handshake age, bytes come from it); null before one. */
  tunnelAt: number | null;
  /** Ring of the last outcomes, 1 = lost. */
  outcomes: Uint8Array;
  filled: number;
  next: number;
  lostInRing: number;
}

/**
 * LiveTelemetry keeps the latest per-path figures in memory (last RTT, loss, jitter, handshake age),
 * fed by every accepted telemetry batch, so readers never query an exporter's database.
 * Paths not updated for staleAfterMs are dropped on read; maxPaths bounds memory.
 */
export class LiveTelemetry {
  private readonly paths = new Map<string, PathState>();

  constructor(
    private readonly opts: { window?: number; maxPaths?: number; staleAfterMs?: number; clock?: () => number } = {},
  ) {}

  private get window(): number {
    return this.opts.window ?? 60;
  }

  private state(src: string, dst: string, at: number): PathState {
    const key = `${src}\u0000${dst}`;
    let s = this.paths.get(key);
    if (!s) {
      if (this.paths.size >= (this.opts.maxPaths ?? 100_000)) this.evictOldest();
      s = {
        src,
        dst,
        updatedAt: at,
        rttUs: null,
        loss: null,
        jitterUs: 0,
        handshakeAgeS: null,
        up: null,
        rxBytes: null,
        txBytes: null,
        lastSeq: null,
        path: null,
        tunnelAt: null,
        outcomes: new Uint8Array(this.window),
        filled: 0,
        next: 0,
        lostInRing: 0,
      };
      this.paths.set(key, s);
    }
    return s;
  }

  private evictOldest(): void {
    let oldestKey: string | null = null;
    let oldest = Infinity;
    for (const [k, v] of this.paths) if (v.updatedAt < oldest) [oldest, oldestKey] = [v.updatedAt, k];
    if (oldestKey !== null) this.paths.delete(oldestKey);
  }

  /** addProbes folds probe rows in; rows older than the path's newest seq only count toward loss. */
  addProbes(rows: readonly ProbeRow[]): void {
    for (const r of rows) {
      const s = this.state(r.src, r.dst, r.ts);
      const ring = s.outcomes;
      if (s.filled === ring.length) s.lostInRing -= ring[s.next]!;
      else s.filled++;
      ring[s.next] = r.lost ? 1 : 0;
      s.lostInRing += ring[s.next]!;
      s.next = (s.next + 1) % ring.length;
      s.loss = s.lostInRing / s.filled;
      if (s.lastSeq === null || r.seq > s.lastSeq) {
        s.lastSeq = r.seq;
        s.path = r.path;
        if (!r.lost && r.rttUs !== null) s.rttUs = r.rttUs;
        s.jitterUs = r.jitterUs;
      }
      if (r.ts > s.updatedAt) s.updatedAt = r.ts;
    }
  }

  addTunnels(rows: readonly TunnelRow[]): void {
    for (const r of rows) {
      const s = this.state(r.src, r.dst, r.ts);
      // Only an older tunnel row is out of date: probe rows of the same batch are often newer than
      // its tunnel sample (probes are stamped when sent), and must not hide it, or `up` would keep
      // the first sample's value (down when the handshake was not done yet) for good.
      if (s.tunnelAt !== null && r.ts < s.tunnelAt) continue;
      s.tunnelAt = r.ts;
      s.handshakeAgeS = r.handshakeAgeS;
      s.up = r.up;
      s.rxBytes = r.rxBytes;
      s.txBytes = r.txBytes;
      if (r.ts > s.updatedAt) s.updatedAt = r.ts;
    }
  }

  /** forgetNode drops every path from or to a node (revoked, removed). */
  forgetNode(name: string): void {
    for (const [k, v] of this.paths) if (v.src === name || v.dst === name) this.paths.delete(k);
  }

  /** snapshot is every live path sorted by (src, dst), without the internal ring. */
  snapshot(): LivePath[] {
    const now = (this.opts.clock ?? Date.now)();
    const stale = this.opts.staleAfterMs ?? 5 * 60_000;
    const out: LivePath[] = [];
    for (const [k, s] of this.paths) {
      if (now - s.updatedAt > stale) {
        this.paths.delete(k);
        continue;
      }
      out.push({
        src: s.src,
        dst: s.dst,
        updatedAt: s.updatedAt,
        rttUs: s.rttUs,
        loss: s.loss,
        jitterUs: s.jitterUs,
        handshakeAgeS: s.handshakeAgeS,
        up: s.up,
        rxBytes: s.rxBytes,
        txBytes: s.txBytes,
        lastSeq: s.lastSeq,
        path: s.path,
      });
    }
    return out.sort((a, b) => (a.src < b.src ? -1 : a.src > b.src ? 1 : a.dst < b.dst ? -1 : a.dst > b.dst ? 1 : 0));
  }
}
