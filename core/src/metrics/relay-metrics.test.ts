import { RelayMetrics, type RelayMetricsSnapshot } from './relay-metrics';
import { TrellisMetrics } from './trellis-metrics';

async function collect(snapshot: RelayMetricsSnapshot | null) {
  const m = new TrellisMetrics('agent', { node: 'r1' });
  new RelayMetrics(m.meter('test'), async () => snapshot);
  const { resourceMetrics } = await m.collect();
  await m.shutdown();
  const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  return (name: string) => metrics.find((x) => x.descriptor.name === name);
}

describe('RelayMetrics', () => {
  it("observes the relay's forwarded and dropped counters, drops by reason, and what it serves", async () => {
    const byName = await collect({
      forwardedPackets: 1200,
      forwardedBytes: 1_500_000,
      pingsAccepted: 40,
      drops: { notAllowed: 5, unknownSource: 2, badMac: 0 },
      writeErrors: 1,
      nodes: 2,
      pairs: 3,
      routes: 4,
    });
    expect(byName('trellis_relay_forwarded_packets_total')!.dataPoints[0]!.value).toBe(1200);
    expect(byName('trellis_relay_forwarded_bytes_total')!.descriptor.unit).toBe('By');
    expect(byName('trellis_relay_forwarded_bytes_total')!.dataPoints[0]!.value).toBe(1_500_000);
    const drops = Object.fromEntries(byName('trellis_relay_dropped_packets_total')!.dataPoints.map((d) => [d.attributes.reason, d.value]));
    expect(drops).toEqual({ notAllowed: 5, unknownSource: 2, badMac: 0 });
    expect(byName('trellis_relay_pings_accepted_total')!.dataPoints[0]!.value).toBe(40);
    expect(byName('trellis_relay_write_errors_total')!.dataPoints[0]!.value).toBe(1);
    expect(byName('trellis_relay_nodes')!.dataPoints[0]!.value).toBe(2);
    expect(byName('trellis_relay_pairs')!.dataPoints[0]!.value).toBe(3);
    expect(byName('trellis_relay_sessions')!.dataPoints[0]!.value).toBe(4);
  });

  it('has no series on a node that runs no relay', async () => {
    const byName = await collect(null);
    expect(byName('trellis_relay_forwarded_packets_total')?.dataPoints ?? []).toEqual([]);
  });
});
