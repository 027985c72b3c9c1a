import { AgentMetrics, type AgentMetricsSnapshot } from './agent-metrics';
import { TrellisMetrics } from './trellis-metrics';

const peers = (n: number): AgentMetricsSnapshot['peers'] =>
  Array.from({ length: n }, (_, i) => ({ name: `p${i}`, loss: i / n, jitterUs: 100 * i, rxBytes: 10 * i, txBytes: 20 * i, handshakeAgeS: i, up: true }));

async function seriesOf(maxPeerSeries: number, n: number) {
  const m = new TrellisMetrics('agent');
  const snap: AgentMetricsSnapshot = { peers: peers(n), netmapVersion: 7, compliant: true };
  const am = new AgentMetrics(m.meter('test'), async () => snap, { maxPeerSeries });
  am.setPeerCount(n);
  for (let i = 0; i < n; i++) am.recordProbe(`p${i}`, 500 + i);
  am.recordProbe('p0', null);
  const { resourceMetrics } = await m.collect();
  await m.shutdown();
  const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  const byName = (name: string) => metrics.find((x) => x.descriptor.name === name)!;
  return { byName };
}

describe('AgentMetrics cardinality', () => {
  it('records one series per peer up to the limit', async () => {
    const { byName } = await seriesOf(5, 3);
    const rtt = byName('trellis_probe_rtt');
    expect(rtt.dataPoints.map((d) => d.attributes.peer).sort()).toEqual(['p0', 'p1', 'p2']);
    expect(byName('trellis_peer_loss_ratio').dataPoints).toHaveLength(3);
    expect(byName('trellis_netmap_version').dataPoints[0]!.value).toBe(7);
  });

  it('switches to peer="_aggregate" series above the limit', async () => {
    const { byName } = await seriesOf(5, 8);
    const rtt = byName('trellis_probe_rtt');
    expect(rtt.dataPoints).toHaveLength(1);
    expect(rtt.dataPoints[0]!.attributes).toEqual({ peer: '_aggregate' });
    const loss = byName('trellis_peer_loss_ratio').dataPoints;
    expect(loss.map((d) => d.attributes.stat).sort()).toEqual(['avg', 'max', 'min']);
    expect(loss.every((d) => d.attributes.peer === '_aggregate')).toBe(true);
    const max = loss.find((d) => d.attributes.stat === 'max')!.value as number;
    expect(max).toBeCloseTo(7 / 8);
    const probes = byName('trellis_probes').dataPoints;
    expect(probes.map((d) => `${d.attributes.peer}/${d.attributes.outcome}`).sort()).toEqual(['_aggregate/answered', '_aggregate/lost']);
  });
});
