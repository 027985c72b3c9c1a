import type { Meter } from '@opentelemetry/api';

export interface SharedStoreMetricsSnapshot {
  /** Changes other controllers made, received over the store's change feed. */
  changesReceived: number;
  /** Times the feed reconnected and everything was read afresh. */
  resyncs: number;
  /** Whether the feed listens now. */
  listening: boolean;
  /** From the sender's commit to here for the last change, ms; null before the first. */
  lastDelayMs: number | null;
  /** Controllers recorded in the store with a live heartbeat (this one included). */
  controllers: number;
  /** Nodes whose map stream this controller holds, and those only other controllers hold. */
  streamsHere: number;
  streamsElsewhere: number;
}

/**
 * SharedStoreMetrics: controllers sharing one PostgreSQL store. The alert on a controller that
 * stopped following the others reads trellis_store_feed_listening; the console and dashboards
 * show how many controllers run and where the nodes' streams are.
 */
export class SharedStoreMetrics {
  constructor(meter: Meter, snapshot: () => Promise<SharedStoreMetricsSnapshot>) {
    const received = meter.createObservableCounter('trellis_store_changes_received_total', { description: 'Changes other controllers sharing the store made, received over its change feed' });
    const resyncs = meter.createObservableCounter('trellis_store_feed_resyncs_total', { description: 'Times the store change feed reconnected and the controller read everything afresh' });
    const listening = meter.createObservableGauge('trellis_store_feed_listening', { description: '1 while this controller follows the changes of the others sharing its store, else 0' });
    const delay = meter.createObservableGauge('trellis_store_change_delay_seconds', { description: "Delay of the last change from another controller, from its commit to here", unit: 's' });
    const controllers = meter.createObservableGauge('trellis_controllers', { description: 'Controllers sharing the store with a live heartbeat' });
    const streams = meter.createObservableGauge('trellis_node_streams', { description: 'Nodes with an open map stream, by where: here or only at another controller' });
    meter.addBatchObservableCallback(
      async (obs) => {
        const s = await snapshot();
        obs.observe(received, s.changesReceived);
        obs.observe(resyncs, s.resyncs);
        obs.observe(listening, s.listening ? 1 : 0);
        if (s.lastDelayMs !== null) obs.observe(delay, s.lastDelayMs / 1000);
        obs.observe(controllers, s.controllers);
        obs.observe(streams, s.streamsHere, { where: 'here' });
        obs.observe(streams, s.streamsElsewhere, { where: 'elsewhere' });
      },
      [received, resyncs, listening, delay, controllers, streams],
    );
  }
}
