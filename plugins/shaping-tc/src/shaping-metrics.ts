/**
 * ShapingMetrics are shaping-tc's OpenTelemetry instruments: each tc class's counters as the
 * kernel keeps them (bytes and packets sent, drops, overlimits) and its backlog, labelled iface,
 * direction (egress, ingress) and class (realtime, critical, default, bulk, link, "cap <target>").
 * metrics-prometheus serves them as trellis_shaping_*; the drops feed the TrellisShapingDrops rule.
 * Read at collection time from the same samples as status and telemetry (at most 1 s old).
 */
import type { PluginContext } from '@trellis/core/api';
import type { ClassStatsSample } from './tc-apply';

type Meter = PluginContext['meter'];
type BatchObservableCallback = Parameters<Meter['addBatchObservableCallback']>[0];

export class ShapingMetrics {
  private readonly callback: BatchObservableCallback;
  private readonly observables;

  constructor(
    private readonly meter: Meter,
    stats: () => Promise<ClassStatsSample[]>,
  ) {
    const sentBytes = meter.createObservableCounter('trellis_shaping_sent_bytes_total', { description: 'Bytes sent through the tc class', unit: 'By' });
    const sentPackets = meter.createObservableCounter('trellis_shaping_sent_packets_total', { description: 'Packets sent through the tc class' });
    const dropped = meter.createObservableCounter('trellis_shaping_dropped_packets_total', { description: 'Packets the tc class dropped (queue full)' });
    const overlimits = meter.createObservableCounter('trellis_shaping_overlimits_total', { description: 'Times the tc class was over its rate and had to borrow or wait' });
    const backlog = meter.createObservableGauge('trellis_shaping_backlog_bytes', { description: 'Bytes queued in the tc class', unit: 'By' });
    this.observables = [sentBytes, sentPackets, dropped, overlimits, backlog];
    this.callback = async (obs) => {
      for (const s of await stats()) {
        const attrs = { iface: s.dev, direction: s.direction, class: s.label };
        obs.observe(sentBytes, s.bytes, attrs);
        obs.observe(sentPackets, s.packets, attrs);
        obs.observe(dropped, s.drops, attrs);
        obs.observe(overlimits, s.overlimits, attrs);
        obs.observe(backlog, s.backlogBytes, attrs);
      }
    };
    meter.addBatchObservableCallback(this.callback, this.observables);
  }

  /** stop detaches the callback, so a stopped plugin reports nothing. */
  stop(): void {
    this.meter.removeBatchObservableCallback(this.callback, this.observables);
  }
}
