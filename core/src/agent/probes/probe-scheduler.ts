/**
 * probes: UDP probes over the overlay. One socket per agent sends pings to every peer, spread
 * evenly across the interval, and answers peers' pings with pongs; each peer's RTT, loss and
 * jitter are kept in a PeerWindow. One timer drives both sending and timeouts, and the packet
 * path allocates nothing but the outgoing buffer and never logs, so probing 50 peers once a
 * second stays far below 2 % of a core.
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import pino from 'pino';
import type { PeerProbeStats } from '../../api/hooks';
import { errors } from '../../errors';
import type { Logger } from '../../log/logger';
import { decodeProbe, ProbeEncoder, ProbeType } from './probe-codec';
import { systemProbeClock, type ProbeClock } from './probe-clock';
import { PeerWindow, type PeerWindowStats } from './peer-window';

export interface ProbeTarget {
  id: string;
  name: string;
  /** The peer's overlay address, of the same IP family as the scheduler's bindAddress. */
  address: string;
  /** Defaults to the scheduler's own port. */
  port?: number;
}

/** One probe's outcome, emitted once: when it is answered or when it times out. */
export interface ProbeSample {
  peerId: string;
  seq: number;
  /** Unix ms when the ping was sent. */
  sentAt: number;
  /** null = lost. */
  rttUs: number | null;
  jitterUs: number;
}

export interface ProbeSchedulerOptions {
  bindAddress: string;
  /** UDP port to bind and, by default, to probe on peers; 0 binds an ephemeral port. */
  port: number;
  intervalMs: number;
  /** Probes kept per peer. Default 60. */
  windowSize?: number;
  /** A probe not answered within this is lost. Default max(1000, 2 × intervalMs). */
  timeoutMs?: number;
  clock?: ProbeClock;
  log?: Logger;
  onSample?: (s: ProbeSample) => void;
  nodeId: string;
}

interface PeerState {
  target: ProbeTarget;
  port: number;
  window: PeerWindow;
  nextSeq: number;
  /** Bound once per peer so timeouts allocate no closure. */
  onLost: ((seq: number, sentAtMs: number) => void) | undefined;
}

/** Below this, several peers share one tick rather than waking the loop more often. */
const MIN_TICK_MS = 100;
const BIND_RETRY_MS = 200;

export class ProbeScheduler {
  private readonly clock: ProbeClock;
  private readonly log: Logger;
  private readonly encoder: ProbeEncoder;
  private readonly intervalMs: number;
  private readonly windowSize: number;
  private readonly timeoutUs: number;
  private readonly onSample: ((s: ProbeSample) => void) | undefined;
  private readonly family: 4 | 6;
  private socket: dgram.Socket | null = null;
  private bound = false;
  private running = false;
  private peers: PeerState[] = [];
  private readonly byId = new Map<string, PeerState>();
  private rr = 0;
  private nextDueUs = 0;
  private timer: unknown = null;
  private timerDueUs = Infinity;
  private retryTimer: unknown = null;
  private lastBindError: string | null = null;
  private lastSendError: string | null = null;
  private malformed = 0;
  private sampleErrorLogged = false;

  constructor(private readonly opts: ProbeSchedulerOptions) {
    const where = 'probes';
    if (isIP(opts.bindAddress) === 0) throw errors.configInvalid(where, `bindAddress "${opts.bindAddress}" is not an IP address`);
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
      throw errors.configInvalid(where, `port must be an integer 0..65535, got ${opts.port}`);
    }
    if (!(opts.intervalMs > 0)) throw errors.configInvalid(where, `intervalMs must be > 0, got ${opts.intervalMs}`);
    this.windowSize = opts.windowSize ?? 60;
    if (!Number.isInteger(this.windowSize) || this.windowSize < 1) {
      throw errors.configInvalid(where, `windowSize must be a positive integer, got ${opts.windowSize}`);
    }
    const timeoutMs = opts.timeoutMs ?? Math.max(1000, 2 * opts.intervalMs);
    if (!(timeoutMs > 0) || timeoutMs >= opts.intervalMs * this.windowSize) {
      throw errors.configInvalid(
        where,
        `timeoutMs must be > 0 and shorter than intervalMs × windowSize (${opts.intervalMs * this.windowSize}), got ${timeoutMs}`,
      );
    }
    this.timeoutUs = timeoutMs * 1000;
    this.family = isIP(opts.bindAddress) as 4 | 6;
    this.intervalMs = opts.intervalMs;
    this.encoder = new ProbeEncoder(opts.nodeId);
    this.clock = opts.clock ?? systemProbeClock;
    this.log = opts.log ?? pino({ level: 'silent' });
    this.onSample = opts.onSample;
  }

  /**
   * start binds the socket. If the address is not assigned yet (EADDRNOTAVAIL, e.g. the overlay
   * address is added after the agent starts) it resolves anyway and keeps retrying every 200 ms
   * in the background until bound or stopped; any other bind error rejects.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const err = await this.tryBind();
    if (err === null) return;
    if (err.code === 'EADDRNOTAVAIL') {
      this.log.info({ address: this.opts.bindAddress, port: this.opts.port }, 'probe address not assigned yet; retrying');
      this.lastBindError = err.code;
      this.scheduleBindRetry();
      return;
    }
    this.running = false;
    throw errors.probeBind(this.opts.bindAddress, this.opts.port, err.code ?? err.message);
  }

  /** Whether the socket is bound (probes are sent and answered only then). */
  get isBound(): boolean {
    return this.bound;
  }

  /** The bound UDP port (useful with port 0), or null before binding. */
  localPort(): number | null {
    return this.bound && this.socket ? this.socket.address().port : null;
  }

  /**
   * setPeers replaces the peer list. Peers that remain keep their windows; new peers are probed
   * at once (which also prompts WireGuard to handshake); removed peers' stats are dropped.
   * Invalid input throws and leaves the previous list in place.
   */
  setPeers(peers: ProbeTarget[]): void {
    const seen = new Set<string>();
    for (const p of peers) {
      if (!p.id) throw errors.configInvalid('probes.peers', 'a peer has an empty id');
      if (seen.has(p.id)) throw errors.configInvalid('probes.peers', `peer id "${p.id}" is listed twice`);
      seen.add(p.id);
      const family = isIP(p.address);
      if (family === 0) throw errors.configInvalid('probes.peers', `peer "${p.id}" address "${p.address}" is not an IP address`);
      if (family !== this.family) {
        throw errors.configInvalid(
          'probes.peers',
          `peer "${p.id}" address ${p.address} is IPv${family} but the probe socket is IPv${this.family} (${this.opts.bindAddress})`,
        );
      }
      if (p.port !== undefined && (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535)) {
        throw errors.configInvalid('probes.peers', `peer "${p.id}" port must be 1..65535, got ${p.port}`);
      }
    }
    const next: PeerState[] = [];
    const added: PeerState[] = [];
    for (const p of peers) {
      const port = p.port ?? this.opts.port;
      const existing = this.byId.get(p.id);
      if (existing) {
        existing.target = { ...p };
        existing.port = port;
        next.push(existing);
      } else {
        const state: PeerState = { target: { ...p }, port, window: new PeerWindow(this.windowSize), nextSeq: 1, onLost: undefined };
        if (this.onSample) state.onLost = (seq, sentAt) => this.emitLost(state, seq, sentAt);
        next.push(state);
        added.push(state);
      }
    }
    const hadPeers = this.peers.length > 0;
    this.peers = next;
    this.byId.clear();
    for (const p of next) this.byId.set(p.target.id, p);
    if (this.rr >= next.length) this.rr = 0;
    if (!this.bound) return;
    const nowUs = this.nowUs();
    // A larger peer set means a shorter tick: do not wait out the old, longer one.
    const { tickUs } = this.cadence();
    if (!hadPeers || this.nextDueUs > nowUs + tickUs) this.nextDueUs = nowUs + tickUs;
    for (const p of added) this.sendPing(p);
    this.arm(nowUs);
  }

  /** probeNow sends a probe at once to one peer, or to all; throws if the peer is unknown. */
  probeNow(peerId?: string): void {
    if (peerId !== undefined && !this.byId.has(peerId)) throw errors.notFound(`probe peer "${peerId}"`);
    if (!this.bound) return;
    if (peerId !== undefined) this.sendPing(this.byId.get(peerId)!);
    else for (const p of this.peers) this.sendPing(p);
    this.arm(this.nowUs());
  }

  /**
   * Per-peer stats in peer-list order; rttUs is the latest reply's RTT. Probes count only once the
   * peer has answered (peer-window.ts): before that a peer has replied false and loss null.
   */
  stats(): PeerProbeStats[] {
    const nowUs = this.nowUs();
    this.expireAll(nowUs);
    return this.peers.map((p) => {
      const s = p.window.stats(nowUs, this.timeoutUs);
      return {
        peerId: p.target.id,
        peerName: p.target.name,
        rttUs: s.lastRttUs,
        loss: s.loss,
        jitterUs: s.jitterUs,
        sent: s.sent,
        received: s.received,
        early: s.early,
        replied: s.replied,
      };
    });
  }

  /** The full window of one peer (min/avg RTT, pending count), or null if it is not a peer. */
  windowStats(peerId: string): PeerWindowStats | null {
    const p = this.byId.get(peerId);
    if (!p) return null;
    const nowUs = this.nowUs();
    this.expireAll(nowUs);
    return p.window.stats(nowUs, this.timeoutUs);
  }

  /** Datagrams received that were not valid probes. */
  get malformedCount(): number {
    return this.malformed;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.clearTimer();
    if (this.retryTimer !== null) {
      this.clock.clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    const socket = this.socket;
    this.socket = null;
    this.bound = false;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  private tryBind(): Promise<NodeJS.ErrnoException | null> {
    const socket = dgram.createSocket({ type: this.family === 6 ? 'udp6' : 'udp4' });
    return new Promise((resolve) => {
      const onError = (err: NodeJS.ErrnoException) => {
        socket.close();
        resolve(err);
      };
      socket.once('error', onError);
      socket.bind({ address: this.opts.bindAddress, port: this.opts.port, exclusive: true }, () => {
        socket.off('error', onError);
        if (!this.running) {
          socket.close();
          resolve(null);
          return;
        }
        socket.on('error', (e) => this.log.warn({ err: e }, 'probe socket error'));
        socket.on('message', this.onMessage);
        this.socket = socket;
        this.bound = true;
        this.lastBindError = null;
        this.log.debug({ address: this.opts.bindAddress, port: this.localPort() }, 'probe socket bound');
        const nowUs = this.nowUs();
        this.nextDueUs = nowUs + this.cadence().tickUs;
        for (const p of this.peers) this.sendPing(p);
        this.arm(nowUs);
        resolve(null);
      });
    });
  }

  private scheduleBindRetry(): void {
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = null;
      if (!this.running) return;
      void this.tryBind().then((err) => {
        if (err === null || !this.running) return;
        if (err.code !== this.lastBindError) {
          this.lastBindError = err.code ?? err.message;
          const level = err.code === 'EADDRNOTAVAIL' ? 'info' : 'error';
          this.log[level]({ address: this.opts.bindAddress, port: this.opts.port, code: err.code }, 'probe socket bind failed; retrying');
        }
        this.scheduleBindRetry();
      });
    }, BIND_RETRY_MS);
  }

  private nowUs(): number {
    return Number(this.clock.monoUs());
  }

  /** How many peers each tick probes, and the tick period, so that each peer gets one per interval. */
  private cadence(): { perTick: number; tickUs: number } {
    const n = Math.max(1, this.peers.length);
    const perTick = Math.min(n, Math.max(1, Math.ceil((n * MIN_TICK_MS) / this.intervalMs)));
    return { perTick, tickUs: (this.intervalMs * 1000 * perTick) / n };
  }

  private readonly tick = (): void => {
    this.timer = null;
    this.timerDueUs = Infinity;
    if (!this.bound) return;
    const nowUs = this.nowUs();
    this.expireAll(nowUs);
    const n = this.peers.length;
    if (n > 0 && nowUs >= this.nextDueUs) {
      const { perTick, tickUs } = this.cadence();
      for (let i = 0; i < perTick; i++) {
        if (this.rr >= n) this.rr = 0;
        this.sendPing(this.peers[this.rr++]!);
      }
      this.nextDueUs += tickUs;
      // After a stall, resume the cadence instead of bursting to catch up.
      if (this.nextDueUs <= nowUs) this.nextDueUs = nowUs + tickUs;
    }
    this.arm(nowUs);
  };

  /** Arms the one timer for the earlier of the next send and the next probe timeout. */
  private arm(nowUs: number): void {
    if (!this.bound) return;
    let due = this.peers.length > 0 ? this.nextDueUs : Infinity;
    for (const p of this.peers) {
      const deadline = p.window.oldestPendingUs() + this.timeoutUs + 1;
      if (deadline < due) due = deadline;
    }
    if (due === Infinity) {
      this.clearTimer();
      return;
    }
    if (this.timer !== null && this.timerDueUs <= due) return;
    this.clearTimer();
    this.timerDueUs = due;
    this.timer = this.clock.setTimeout(this.tick, Math.max(0, Math.ceil((due - nowUs) / 1000)));
  }

  private clearTimer(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.timerDueUs = Infinity;
  }

  private expireAll(nowUs: number): void {
    for (const p of this.peers) p.window.expire(nowUs, this.timeoutUs, p.onLost);
  }

  private sendPing(p: PeerState): void {
    const socket = this.socket;
    if (!socket) return;
    const seq = p.nextSeq;
    p.nextSeq = (seq + 1) >>> 0;
    const ts = this.clock.monoUs();
    const buf = this.encoder.encode(ProbeType.PING, seq, ts);
    p.window.recordSent(seq, Number(ts), this.clock.now(), p.onLost);
    socket.send(buf, p.port, p.target.address, this.onSent);
  }

  private readonly onSent = (err: Error | null): void => {
    if (!err) {
      this.lastSendError = null;
      return;
    }
    const code = (err as NodeJS.ErrnoException).code ?? err.message;
    if (code !== this.lastSendError) {
      this.lastSendError = code;
      this.log.warn({ code }, 'probe send failed (further identical failures are not logged)');
    }
  };

  private readonly onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    const packet = decodeProbe(msg);
    if (!packet) {
      if (this.malformed++ === 0) this.log.debug({ from: rinfo.address, bytes: msg.length }, 'ignoring a datagram that is not a probe');
      return;
    }
    if (packet.type === ProbeType.PING) {
      this.socket?.send(this.encoder.encode(ProbeType.PONG, packet.seq, packet.timestampUs), rinfo.port, rinfo.address, this.onSent);
      return;
    }
    const p = this.byId.get(packet.nodeId);
    if (!p) return;
    const nowUs = this.nowUs();
    const sentUs = Number(packet.timestampUs);
    const outcome = p.window.recordReply(packet.seq, sentUs, nowUs, this.timeoutUs);
    if (outcome === 'opened') {
      // The path exists now; measure it at once rather than at the peer's next turn.
      this.sendPing(p);
      this.arm(nowUs);
      return;
    }
    if (outcome === 'ignored' || !this.onSample) return;
    this.emit({
      peerId: p.target.id,
      seq: packet.seq,
      sentAt: p.window.sentAtOf(packet.seq) ?? 0,
      rttUs: outcome === 'answered' ? nowUs - sentUs : null,
      jitterUs: p.window.jitterUs,
    });
  };

  private emitLost(p: PeerState, seq: number, sentAt: number): void {
    this.emit({ peerId: p.target.id, seq, sentAt, rttUs: null, jitterUs: p.window.jitterUs });
  }

  private emit(sample: ProbeSample): void {
    try {
      this.onSample?.(sample);
    } catch (err) {
      if (!this.sampleErrorLogged) {
        this.sampleErrorLogged = true;
        this.log.error({ err }, 'onSample threw; probe samples keep flowing (further errors are not logged)');
      }
    }
  }
}
