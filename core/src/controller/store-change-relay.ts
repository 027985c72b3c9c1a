import type { Logger } from '../log/logger';
import type { DeliveredChange, StoreChangeFeed } from '../store/store';

export interface StoreChangeTargets {
  /** A node's record changed elsewhere: apply it to the maps (and the node's key state). */
  nodeChanged(nodeId: string, reason: string): void;
  /** Something every map depends on changed elsewhere (users, groups). */
  meshChanged(reason: string): void;
  /** The active policy moved elsewhere: load it. */
  policyChanged(version: string, reason: string): Promise<void>;
  /** Presence changes (streams, controllers gone). */
  presence(change: DeliveredChange): void;
  /** Changes may have been missed: read everything afresh. */
  resync(reason: string): Promise<void>;
}

/** Counts for metrics: changes received from other controllers and resyncs. */
export interface StoreChangeRelayStats {
  received: number;
  resyncs: number;
  /** Whether the feed is listening now. */
  listening: boolean;
  /** Delay of the last change, from the sender's commit to here, ms (clocks of two hosts). */
  lastDelayMs: number | null;
}

/**
 * StoreChangeRelay feeds what other controllers sharing the store changed into this controller's
 * map pipeline: node changes are applied incrementally like local ones, mesh and policy changes
 * rebuild, presence goes to SharedPresence, and a feed that lost its connection triggers a full
 * re-read once it listens again.
 */
export class StoreChangeRelay {
  private stop: (() => Promise<void>) | null = null;
  private readonly counts: StoreChangeRelayStats = { received: 0, resyncs: 0, listening: false, lastDelayMs: null };

  constructor(
    private readonly feed: StoreChangeFeed,
    private readonly to: StoreChangeTargets,
    private readonly log: Logger,
    private readonly clock: () => number,
  ) {}

  stats(): StoreChangeRelayStats {
    return { ...this.counts };
  }

  async start(): Promise<void> {
    this.stop = await this.feed.subscribe({
      change: (c) => this.change(c),
      resync: (reason) => {
        this.counts.listening = true;
        this.counts.resyncs++;
        this.log.info({ reason }, 'store change feed listening again; reading everything afresh');
        this.to.resync(reason).catch((err: unknown) => this.log.error({ err }, 'resync after the store change feed came back failed'));
      },
      lost: (reason) => {
        if (this.counts.listening) this.log.warn({ reason }, 'store change feed lost; changes other controllers make reach this one after it reconnects');
        this.counts.listening = false;
      },
    });
    this.counts.listening = true;
  }

  private change(c: DeliveredChange): void {
    this.counts.received++;
    this.counts.lastDelayMs = Math.max(0, this.clock() - c.sentAt);
    switch (c.kind) {
      case 'node':
        this.to.nodeChanged(c.nodeId, `${c.reason} (another controller)`);
        break;
      case 'mesh':
        this.to.meshChanged(`${c.reason} (another controller)`);
        break;
      case 'policy':
        this.to.policyChanged(c.version, c.reason).catch((err: unknown) => this.log.error({ err, version: c.version }, 'could not load the policy another controller activated'));
        break;
      case 'presence':
      case 'controller-gone':
        this.to.presence(c);
        break;
    }
  }

  async close(): Promise<void> {
    const stop = this.stop;
    this.stop = null;
    this.counts.listening = false;
    await stop?.();
  }
}
