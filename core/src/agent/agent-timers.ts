/**
 * AgentTimers runs the agent's periodic work: the endpoint check, the facts round and, only when
 * some plugin listens, the onPeerStats sample. The timers are unref'd, so they never keep a
 * stopping process alive.
 */
import type { AgentIntervals } from './start-options';

export interface AgentTimerTasks {
  reportEndpoints: () => void;
  refreshFacts: () => void;
  /** null when no plugin has onPeerStats: then nothing is sampled. */
  samplePeerStats: (() => void) | null;
}

export class AgentTimers {
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly intervals: AgentIntervals,
    private readonly tasks: AgentTimerTasks,
  ) {}

  start(): void {
    const { endpointsMs, factsMs, peerStatsMs } = this.intervals;
    const { reportEndpoints, refreshFacts, samplePeerStats } = this.tasks;
    this.timers.push(setInterval(reportEndpoints, endpointsMs));
    this.timers.push(setInterval(refreshFacts, factsMs));
    if (samplePeerStats) this.timers.push(setInterval(samplePeerStats, peerStatsMs));
    for (const t of this.timers) t.unref();
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }
}
