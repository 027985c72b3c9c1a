import { AgentMetrics, type AgentMetricsSnapshot } from './agent-metrics';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { TrellisMetrics } from './trellis-metrics';

const peers = (n: number): AgentMetricsSnapshot['peers'] =>
  Array.from({ length: n }, (_, i) => ({ name: `p${i}`, loss: i / n, jitterUs: 100 * i, rxBytes: 10 * i, txBytes: 20 * i, handshakeAgeS: i, up: true }));

async function seriesOf(maxPeerSeries: number, n: number) {
  const m = new TrellisMetrics('agent', { node: 'n0' });
  const snap: AgentMetricsSnapshot = { peers: peers(n), netmapVersion: 7, compliant: true };
  const am = new AgentMetrics(m.meter('test'), async () => snap, { maxPeerSeries });
  am.setPeerCount(n);
  for (let i = 0; i < n; i++) am.recordProbe(`p${i}`, 500 + i);
  am.recordProbe('p0', null);
  const { resourceMetrics } = await m.collect();
  await m.shutdown();
  const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  const byName = (name: string) => metrics.find((x) => x.descriptor.name === name)!;
  return { byName, resource: resourceMetrics.resource };
}

describe('AgentMetrics cardinality', () => {
  it('records one series per peer up to the limit', async () => {
    const { byName } = await seriesOf(5, 3);
    const rtt = byName('trellis_probe_rtt_seconds');
    expect(rtt.dataPoints.map((d) => d.attributes.peer).sort()).toEqual(['p0', 'p1', 'p2']);
    expect(byName('trellis_peer_loss_ratio').dataPoints).toHaveLength(3);
    expect(byName('trellis_netmap_version').dataPoints[0]!.value).toBe(7);
  });

  it('records in base units: seconds for RTT, jitter and handshake age, bytes counters', async () => {
    const { byName } = await seriesOf(5, 3);
    const rtt = byName('trellis_probe_rtt_seconds');
    expect(rtt.descriptor.unit).toBe('s');
    const p1 = rtt.dataPoints.find((d) => d.attributes.peer === 'p1')!.value as { sum: number; count: number };
    expect(p1.count).toBe(1);
    expect(p1.sum).toBeCloseTo(501e-6, 9);
    const jitter = byName('trellis_peer_jitter_seconds').dataPoints.find((d) => d.attributes.peer === 'p2')!;
    expect(jitter.value).toBeCloseTo(200e-6, 9);
    expect(byName('trellis_peer_handshake_age_seconds').dataPoints.find((d) => d.attributes.peer === 'p2')!.value).toBe(2);
    const rx = byName('trellis_peer_rx_bytes_total');
    expect(rx.dataPointType).toBe(DataPointType.SUM);
    expect((rx as { isMonotonic?: boolean }).isMonotonic).toBe(true);
    expect(rx.dataPoints.find((d) => d.attributes.peer === 'p2')!.value).toBe(20);
  });

  it('counts endpoints written back after a drift, per peer and chosen path', async () => {
    const m = new TrellisMetrics('agent', { node: 'n0' });
    const am = new AgentMetrics(m.meter('test'), async () => ({ peers: peers(2), netmapVersion: 1, compliant: true }), { maxPeerSeries: 5 });
    am.setPeerCount(2);
    am.recordEndpointReassert('p0', 'direct');
    am.recordEndpointReassert('p0', 'direct');
    am.recordEndpointReassert('p1', 'n3');
    const { resourceMetrics } = await m.collect();
    await m.shutdown();
    const c = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((x) => x.descriptor.name === 'trellis_path_endpoint_reasserts_total')!;
    expect(c.dataPointType).toBe(DataPointType.SUM);
    expect(c.dataPoints.map((d) => [d.attributes.peer, d.attributes.path, d.value]).sort()).toEqual([
      ['p0', 'direct', 2],
      ['p1', 'n3', 1],
    ]);
  });

  it('names the process: service.name trellis-agent and the node as service.instance.id', async () => {
    const { resource } = await seriesOf(5, 1);
    expect(resource.attributes['service.name']).toBe('trellis-agent');
    expect(resource.attributes['service.instance.id']).toBe('n0');
    expect(resource.attributes['service.version']).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('switches to peer="_aggregate" series above the limit', async () => {
    const { byName } = await seriesOf(5, 8);
    const rtt = byName('trellis_probe_rtt_seconds');
    expect(rtt.dataPoints).toHaveLength(1);
    expect(rtt.dataPoints[0]!.attributes).toEqual({ peer: '_aggregate' });
    const loss = byName('trellis_peer_loss_ratio').dataPoints;
    expect(loss.map((d) => d.attributes.stat).sort()).toEqual(['avg', 'max', 'min']);
    expect(loss.every((d) => d.attributes.peer === '_aggregate')).toBe(true);
    const max = loss.find((d) => d.attributes.stat === 'max')!.value as number;
    expect(max).toBeCloseTo(7 / 8);
    const probes = byName('trellis_probes_total').dataPoints;
    expect(probes.map((d) => `${d.attributes.peer}/${d.attributes.outcome}`).sort()).toEqual(['_aggregate/answered', '_aggregate/lost']);
    // Counters are summed over the peers: 10 * (0 + 1 + ... + 7) received bytes.
    const rx = byName('trellis_peer_rx_bytes_total').dataPoints;
    expect(rx.map((d) => d.attributes)).toEqual([{ peer: '_aggregate' }]);
    expect(rx[0]!.value).toBe(280);
  });

  it("drops a departed peer's gauges at the next collection, keeping counters cumulative", async () => {
    const m = new TrellisMetrics('agent', { node: 'n0' });
    let snap: AgentMetricsSnapshot = { peers: peers(3), netmapVersion: 1, compliant: true };
    const am = new AgentMetrics(m.meter('test'), async () => snap, { maxPeerSeries: 5 });
    am.recordProbe('p2', 700);
    const names = async (metric: string) => {
      const { resourceMetrics } = await m.collect();
      const found = resourceMetrics.scopeMetrics.flatMap((x) => x.metrics).find((x) => x.descriptor.name === metric);
      return (found?.dataPoints ?? []).map((d) => String(d.attributes.peer)).sort();
    };
    try {
      expect(await names('trellis_peer_handshake_age_seconds')).toEqual(['p0', 'p1', 'p2']);
      snap = { ...snap, peers: peers(3).slice(0, 2) };
      expect(await names('trellis_peer_handshake_age_seconds')).toEqual(['p0', 'p1']);
      expect(await names('trellis_tunnel_up')).toEqual(['p0', 'p1']);
      expect(await names('trellis_probe_rtt_seconds')).toEqual(['p2']);
    } finally {
      await m.shutdown();
    }
  });
});

describe('AgentMetrics loss', () => {
  it('observes no loss for a peer that never answered a probe (no data), and 0 for one that answered and lost nothing', async () => {
    const m = new TrellisMetrics('agent', { node: 'n0' });
    const snap: AgentMetricsSnapshot = {
      peers: [
        { name: 'answered', loss: 0, jitterUs: 10, rxBytes: 1, txBytes: 1, handshakeAgeS: 2, up: true },
        { name: 'silent', loss: null, jitterUs: 0, rxBytes: 0, txBytes: 92, handshakeAgeS: null, up: false },
      ],
      netmapVersion: 1,
      compliant: null,
    };
    new AgentMetrics(m.meter('test'), async () => snap, { maxPeerSeries: 5 }).setPeerCount(2);
    const { resourceMetrics } = await m.collect();
    await m.shutdown();
    const loss = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((x) => x.descriptor.name === 'trellis_peer_loss_ratio')!;
    expect(loss.dataPoints.map((d) => [d.attributes.peer, d.value])).toEqual([['answered', 0]]);
  });
});

describe('AgentMetrics device', () => {
  async function deviceSeries(device: AgentMetricsSnapshot['device']) {
    const m = new TrellisMetrics('agent', { node: 'n0' });
    const snap: AgentMetricsSnapshot = { peers: [], netmapVersion: 1, compliant: null, device };
    new AgentMetrics(m.meter('test'), async () => snap).setPeerCount(0);
    const { resourceMetrics } = await m.collect();
    await m.shutdown();
    const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    const of = (name: string) => metrics.find((x) => x.descriptor.name === name)?.dataPoints.map((d) => [d.attributes, d.value]) ?? [];
    return { info: of('trellis_wg_device_info'), offload: of('trellis_wg_device_segmentation_offload'), fallback: of('trellis_wg_device_fallback') };
  }

  it('labels the build in an info series and says whether offloads are on and whether the agent fell back', async () => {
    expect(await deviceSeries({ driver: 'wireguard-go', version: 'v0.0.20250522', commit: 'ecfc5a8d5446', segmentationOffload: true, fallback: false })).toEqual({
      info: [[{ driver: 'wireguard-go', version: 'v0.0.20250522', commit: 'ecfc5a8d5446' }, 1]],
      offload: [[{}, 1]],
      fallback: [[{}, 0]],
    });
    expect(await deviceSeries({ driver: 'wireguard-go', version: 'v0.0.20220316', commit: null, segmentationOffload: false, fallback: true })).toEqual({
      info: [[{ driver: 'wireguard-go', version: 'v0.0.20220316', commit: 'none' }, 1]],
      offload: [[{}, 0]],
      fallback: [[{}, 1]],
    });
  });

  it('has no device series while the device is down, and no offload series when they cannot be read', async () => {
    expect(await deviceSeries(null)).toEqual({ info: [], offload: [], fallback: [] });
    expect((await deviceSeries({ driver: 'wireguard-go', version: null, commit: null, segmentationOffload: null, fallback: false })).offload).toEqual([]);
  });
});

describe('AgentMetrics exit node', () => {
  async function exitSeries(exit: AgentMetricsSnapshot['exit']) {
    const m = new TrellisMetrics('agent', { node: 'n1' });
    new AgentMetrics(m.meter('test'), async () => ({ peers: peers(2), netmapVersion: 1, compliant: true, exit }));
    const { resourceMetrics } = await m.collect();
    await m.shutdown();
    const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    return (name: string) => (metrics.find((x) => x.descriptor.name === name)?.dataPoints ?? []).map((d) => ({ ...d.attributes, value: d.value }) as Record<string, unknown>);
  }

  it('shows the chosen exit node in use and no fallback', async () => {
    const series = await exitSeries({ preferred: 'n3', fallback: 'n4', inUse: 'n3', switches: 0 });
    expect(series('trellis_exit_node_in_use')).toEqual([
      { exit_node: 'n3', role: 'preferred', value: 1 },
      { exit_node: 'n4', role: 'fallback', value: 0 },
    ]);
    expect(series('trellis_exit_node_fallback')).toEqual([{ exit_node: 'n3', value: 0 }]);
    expect(series('trellis_exit_node_switches_total')).toEqual([{ value: 0 }]);
  });

  it('flags a node on its fallback, or on no exit node at all, and counts the switches', async () => {
    const onFallback = await exitSeries({ preferred: 'n3', fallback: 'n4', inUse: 'n4', switches: 1 });
    expect(onFallback('trellis_exit_node_in_use').map((s) => [s.exit_node, s.value])).toEqual([['n3', 0], ['n4', 1]]);
    expect(onFallback('trellis_exit_node_fallback')).toEqual([{ exit_node: 'n3', value: 1 }]);
    expect(onFallback('trellis_exit_node_switches_total')).toEqual([{ value: 1 }]);
    const none = await exitSeries({ preferred: 'n9', fallback: null, inUse: null, switches: 0 });
    expect(none('trellis_exit_node_in_use')).toEqual([{ exit_node: 'n9', role: 'preferred', value: 0 }]);
    expect(none('trellis_exit_node_fallback')).toEqual([{ exit_node: 'n9', value: 1 }]);
  });

  it('exports nothing about exit nodes without --exit-node', async () => {
    const series = await exitSeries(null);
    expect(series('trellis_exit_node_in_use')).toEqual([]);
    expect(series('trellis_exit_node_fallback')).toEqual([]);
  });
});

describe('AgentMetrics: on-demand spoke peers', () => {
  async function series(onDemand: AgentMetricsSnapshot['onDemand']) {
    const m = new TrellisMetrics('agent', { node: 'n0' });
    new AgentMetrics(m.meter('test'), async () => ({ peers: [], netmapVersion: 1, compliant: null, onDemand }));
    const { resourceMetrics } = await m.collect();
    await m.shutdown();
    const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    return (name: string) => (metrics.find((x) => x.descriptor.name === name)?.dataPoints ?? []).map((d) => ({ ...d.attributes, value: d.value }) as Record<string, unknown>);
  }

  it('shows on-demand peers by state and counts their events', async () => {
    const s = await series({ staged: 1, open: 2, added: 7, removedIdle: 4, handshakeFailed: 1, evicted: 0 });
    expect(s('trellis_on_demand_peers')).toEqual([
      { state: 'staged', value: 1 },
      { state: 'open', value: 2 },
    ]);
    expect(s('trellis_on_demand_peer_events_total')).toEqual([
      { event: 'added', value: 7 },
      { event: 'idle', value: 4 },
      { event: 'handshake_failed', value: 1 },
      { event: 'evicted', value: 0 },
    ]);
  });

  it('exports nothing about them without the device control socket', async () => {
    expect((await series(null))('trellis_on_demand_peers')).toEqual([]);
  });
});
