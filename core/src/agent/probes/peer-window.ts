/**
 * PeerWindow keeps the last N probes sent to one peer in a ring of typed arrays, so recording a
 * probe or a reply allocates nothing. A probe is pending until it is answered or its timeout
 * passes; only then does it count as received or lost, so loss never includes probes in flight.
 *
 * Loss describes the tunnel, not its start. Until the peer has answered once there is no reply
 * path (no WireGuard session yet, or the peer has not yet added us or bound its probe socket), so
 * probes sent before the first reply are "early": they count neither as received nor as lost, and
 * the window reports no loss figure at all (null, "no reply"), never 0 %. The first reply opens
 * the path; every probe sent from then on counts, so a tunnel that later drops probes shows it.
 *
 * The RTT of the reply that opens the path is kept only with `measureOpeningReply`: through a
 * WireGuard tunnel the first answer waited for the handshake, so its RTT says little about the
 * tunnel; a disco pong on the underlay waits for nothing, so its RTT is as good as any later one
 * (and without it a candidate had no figures until a second reply, a second late after an outage).
 */

const EMPTY = 0;
const PENDING = 1;
const RECEIVED = 2;
const LOST = 3;
/** Sent before the reply path opened, not settled yet: it keeps a timeout but will never count. */
const EARLY_PENDING = 4;
/** Sent before the reply path opened and settled (answered, timed out, or overtaken by the first reply). */
const EARLY = 5;

/** What a reply did to the window. */
export type ReplyOutcome =
  /** Counted: the probe was pending and answered within its timeout. */
  | 'answered'
  /** The reply came after the timeout; the probe is (now) counted lost, the RTT is ignored. */
  | 'late'
  /** The first reply from the peer: the reply path is open; every earlier probe stays uncounted, and so does this one unless measureOpeningReply. */
  | 'opened'
  /** No pending probe matches: unknown, evicted, already settled, or a timestamp mismatch. */
  | 'ignored';

export interface PeerWindowStats {
  /** Whether the peer ever answered (the reply path is open); only then do probes count. */
  replied: boolean;
  /** Counted probes in the window (sent once the reply path was open), settled or pending. */
  sent: number;
  received: number;
  lost: number;
  pending: number;
  /** Probes in the window sent before the reply path opened; they count neither way. */
  early: number;
  /** lost / (received + lost) over counted probes whose fate is final (see stats); null while none is settled (no data, not 0 %). */
  loss: number | null;
  /** The most recent accepted RTT (kept after it slides out of the window); null before any. */
  lastRttUs: number | null;
  /** Over replies still in the window; null if none. */
  minRttUs: number | null;
  avgRttUs: number | null;
  /** RFC 3550 interarrival jitter estimate over consecutive RTTs. */
  jitterUs: number;
}

export interface PeerWindowOptions {
  /** Count the reply that opens the path (when it came within its timeout) as received, with its RTT. */
  measureOpeningReply?: boolean;
}

export class PeerWindow {
  readonly size: number;
  private readonly measureOpening: boolean;
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
  private opened = false;
  private lastRtt: number | null = null;
  private jitter = 0;

  constructor(size = 60, opts: PeerWindowOptions = {}) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`window size must be a positive integer, got ${size}`);
    this.size = size;
    this.measureOpening = opts.measureOpeningReply === true;
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
    } else if (this.state[slot] === EARLY_PENDING) this.pendingCount--;
    this.seqs[slot] = seq;
    this.sentUs[slot] = sentUs;
    this.sentAtMs[slot] = sentAtMs;
    this.rttUs[slot] = 0;
    this.state[slot] = this.opened ? PENDING : EARLY_PENDING;
    this.total++;
    this.pendingCount++;
    if (this.scanFrom < this.total - this.size) this.scanFrom = this.total - this.size;
  }

  /**
   * recordReply settles a pending probe. `sentUs` is the timestamp echoed by the peer; it must
   * match what was recorded, so a stale reply from an earlier run with a reused seq is ignored.
   * The first reply to any probe still in the window, even a late one (WireGuard holds packets
   * while it handshakes), opens the reply path.
   */
  recordReply(seq: number, sentUs: number, nowUs: number, timeoutUs: number): ReplyOutcome {
    const slot = this.findSlot(seq);
    if (slot < 0 || this.sentUs[slot] !== sentUs) return 'ignored';
    const st = this.state[slot];
    if (st === EARLY_PENDING || st === EARLY) {
      // Once open, no probe is EARLY_PENDING any more: a further early reply is only a latecomer.
      if (this.opened) return 'ignored';
      this.open();
      const rtt = nowUs - sentUs;
      if (this.measureOpening && st === EARLY_PENDING && rtt >= 0 && rtt <= timeoutUs) {
        // open() settled it as early; it is the first counted probe instead.
        this.state[slot] = RECEIVED;
        this.rttUs[slot] = rtt;
        this.lastRtt = rtt;
      }
      return 'opened';
    }
    if (st !== PENDING) return 'ignored';
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

  /** Whether the peer ever answered: probes count from then on. */
  get replied(): boolean {
    return this.opened;
  }

  /** open starts counting: every probe still waiting was sent before the path existed and never counts. */
  private open(): void {
    this.opened = true;
    for (let i = 0; i < this.size; i++) {
      if (this.state[i] === EARLY_PENDING) {
        this.state[i] = EARLY;
        this.pendingCount--;
      }
    }
    if (this.pendingCount === 0) this.scanFrom = this.total;
  }

  /** The send time (unix ms) recorded for a probe still in the window, or null. */
  sentAtOf(seq: number): number | null {
    const slot = this.findSlot(seq);
    return slot < 0 ? null : this.sentAtMs[slot]!;
  }

  /**
   * expire marks pending probes older than the timeout as lost, oldest first, calling onLost for
   * each (early probes time out silently: they never count). Returns how many became lost.
   * Amortised O(1): probes are stored in send order, so the scan stops at the first young one.
   */
  expire(nowUs: number, timeoutUs: number, onLost?: (seq: number, sentAtMs: number) => void): number {
    let expired = 0;
    while (this.pendingCount > 0 && this.scanFrom < this.total) {
      const slot = this.scanFrom % this.size;
      const st = this.state[slot];
      if (st === PENDING || st === EARLY_PENDING) {
        if (nowUs - this.sentUs[slot]! <= timeoutUs) break;
        this.pendingCount--;
        if (st === EARLY_PENDING) this.state[slot] = EARLY;
        else {
          this.state[slot] = LOST;
          expired++;
          onLost?.(this.seqs[slot]!, this.sentAtMs[slot]!);
        }
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
      if (this.state[slot] === PENDING || this.state[slot] === EARLY_PENDING) return this.sentUs[slot]!;
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

  /**
   * stats summarises the window. Given the time and the timeout, loss is taken over probes sent at
   * least one timeout ago, whose fate is final either way: an answer settles a probe at once but a
   * loss only at its timeout, so counting the young answered ones would dilute the loss (by a
   * sixth at 100 ms probes and a 1 s timeout). Until some probe is that old, loss is 0 if
   * everything settled was answered (nothing can be known lost yet), null if nothing settled.
   */
  stats(nowUs = Infinity, timeoutUs = 0): PeerWindowStats {
    const cutoffUs = nowUs - timeoutUs;
    let received = 0;
    let receivedFinal = 0;
    let lost = 0;
    let pending = 0;
    let early = 0;
    let sum = 0;
    let min = Infinity;
    for (let i = 0; i < this.size; i++) {
      const s = this.state[i];
      if (s === RECEIVED) {
        received++;
        if (this.sentUs[i]! <= cutoffUs) receivedFinal++;
        const r = this.rttUs[i]!;
        sum += r;
        if (r < min) min = r;
      } else if (s === LOST) lost++;
      else if (s === PENDING) pending++;
      else if (s === EARLY || s === EARLY_PENDING) early++;
    }
    // A probe is lost only past its timeout, so every lost one is final.
    const final = receivedFinal + lost;
    return {
      replied: this.opened,
      sent: received + lost + pending,
      received,
      lost,
      pending,
      early,
      loss: final > 0 ? lost / final : received > 0 ? 0 : null,
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
