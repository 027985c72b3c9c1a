/**
 * PeerWindow keeps the last N probes sent to one peer in a ring of typed arrays, so recording a
 * probe or a reply allocates nothing. A probe is pending until it is answered or its timeout
 * passes; only then does it count as received or lost, so loss never includes probes in flight.
 */

const EMPTY = 0;
const PENDING = 1;
const RECEIVED = 2;
const LOST = 3;

/** What a reply did to the window. */
export type ReplyOutcome =
  /** Counted: the probe was pending and answered within its timeout. */
  | 'answered'
  /** The reply came after the timeout; the probe is (now) counted lost, the RTT is ignored. */
  | 'late'
  /** No pending probe matches: unknown, evicted, already settled, or a timestamp mismatch. */
  | 'ignored';

export interface PeerWindowStats {
  /** Probes in the window, settled or pending. */
  sent: number;
  received: number;
  lost: number;
  pending: number;
  /** lost / (received + lost); 0 while nothing is settled. */
  loss: number;
  /** The most recent accepted RTT (kept after it slides out of the window); null before any. */
  lastRttUs: number | null;
  /** Over replies still in the window; null if none. */
  minRttUs: number | null;
  avgRttUs: number | null;
  /** RFC 3550 interarrival jitter estimate over consecutive RTTs. */
  jitterUs: number;
}

export class PeerWindow {
  readonly size: number;
  private readonly seqs: Uint32Array;
  private readonly sentUs: Float64Array;
  private readonly sentAtMs: Float64Array;
  private readonly rttUs: Float64Array;
  private readonly state: Uint8Array;
  /** Probes ever recorded; slot of logical index i is i % size. */
  private total = 0;
  /** Logical index from which pending probes may remain (everything before is settled). */
  private scanFrom = 0;
  private pendingCount = 0;
  private lastRtt: number | null = null;
  private jitter = 0;

  constructor(size = 60) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`window size must be a positive integer, got ${size}`);
    this.size = size;
    this.seqs = new Uint32Array(size);
    this.sentUs = new Float64Array(size);
    this.sentAtMs = new Float64Array(size);
    this.rttUs = new Float64Array(size);
    this.state = new Uint8Array(size);
  }

  /**
   * recordSent adds a probe, evicting the oldest when the window is full. A still-pending probe
   * pushed out (only when probes are sent faster than they time out) is reported to onLost.
   */
  recordSent(seq: number, sentUs: number, sentAtMs: number, onLost?: (seq: number, sentAtMs: number) => void): void {
    const slot = this.total % this.size;
    if (this.state[slot] === PENDING) {
      this.pendingCount--;
      onLost?.(this.seqs[slot]!, this.sentAtMs[slot]!);
    }
    this.seqs[slot] = seq;
    this.sentUs[slot] = sentUs;
    this.sentAtMs[slot] = sentAtMs;
    this.rttUs[slot] = 0;
    this.state[slot] = PENDING;
    this.total++;
    this.pendingCount++;
    if (this.scanFrom < this.total - this.size) this.scanFrom = this.total - this.size;
  }

  /**
   * recordReply settles a pending probe. `sentUs` is the timestamp echoed by the peer; it must
   * match what was recorded, so a stale reply from an earlier run with a reused seq is ignored.
   */
  recordReply(seq: number, sentUs: number, nowUs: number, timeoutUs: number): ReplyOutcome {
    const slot = this.findSlot(seq);
    if (slot < 0 || this.state[slot] !== PENDING || this.sentUs[slot] !== sentUs) return 'ignored';
    this.pendingCount--;
    const rtt = nowUs - sentUs;
    if (rtt > timeoutUs || rtt < 0) {
      this.state[slot] = LOST;
      return 'late';
    }
    this.state[slot] = RECEIVED;
    this.rttUs[slot] = rtt;
    if (this.lastRtt !== null) {
      // RFC 3550 §6.4.1: J += (|D| - J) / 16, with D the change between consecutive RTTs.
      this.jitter += (Math.abs(rtt - this.lastRtt) - this.jitter) / 16;
    }
    this.lastRtt = rtt;
    return 'answered';
  }

  /** The send time (unix ms) recorded for a probe still in the window, or null. */
  sentAtOf(seq: number): number | null {
    const slot = this.findSlot(seq);
    return slot < 0 ? null : this.sentAtMs[slot]!;
  }

  /**
   * expire marks pending probes older than the timeout as lost, oldest first, calling onLost for
   * each. Amortised O(1): probes are stored in send order, so the scan stops at the first young one.
   */
  expire(nowUs: number, timeoutUs: number, onLost?: (seq: number, sentAtMs: number) => void): number {
    let expired = 0;
    while (this.pendingCount > 0 && this.scanFrom < this.total) {
      const slot = this.scanFrom % this.size;
      if (this.state[slot] === PENDING) {
        if (nowUs - this.sentUs[slot]! <= timeoutUs) break;
        this.state[slot] = LOST;
        this.pendingCount--;
        expired++;
        onLost?.(this.seqs[slot]!, this.sentAtMs[slot]!);
      }
      this.scanFrom++;
    }
    if (this.pendingCount === 0) this.scanFrom = this.total;
    return expired;
  }

  /** Send time (monotonic µs) of the oldest pending probe, or Infinity: when the next timeout falls. */
  oldestPendingUs(): number {
    while (this.pendingCount > 0 && this.scanFrom < this.total) {
      const slot = this.scanFrom % this.size;
      if (this.state[slot] === PENDING) return this.sentUs[slot]!;
      this.scanFrom++;
    }
    return Infinity;
  }

  get jitterUs(): number {
    return this.jitter;
  }

  get lastRttUs(): number | null {
    return this.lastRtt;
  }

  stats(): PeerWindowStats {
    let received = 0;
    let lost = 0;
    let pending = 0;
    let sum = 0;
    let min = Infinity;
    for (let i = 0; i < this.size; i++) {
      const s = this.state[i];
      if (s === RECEIVED) {
        received++;
        const r = this.rttUs[i]!;
        sum += r;
        if (r < min) min = r;
      } else if (s === LOST) lost++;
      else if (s === PENDING) pending++;
    }
    const settled = received + lost;
    return {
      sent: settled + pending,
      received,
      lost,
      pending,
      loss: settled === 0 ? 0 : lost / settled,
      lastRttUs: this.lastRtt,
      minRttUs: received === 0 ? null : min,
      avgRttUs: received === 0 ? null : sum / received,
      jitterUs: this.jitter,
    };
  }

  /** Searches newest first: replies are almost always for the latest probe. */
  private findSlot(seq: number): number {
    const n = Math.min(this.total, this.size);
    for (let k = 1; k <= n; k++) {
      const slot = (this.total - k) % this.size;
      if (this.seqs[slot] === seq && this.state[slot] !== EMPTY) return slot;
    }
    return -1;
  }
}
