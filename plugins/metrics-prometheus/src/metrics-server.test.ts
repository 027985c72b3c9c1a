import { execFileSync } from 'node:child_process';
import { AgentMetrics, ControllerMetrics, TrellisMetrics } from '@trellis/core';
import { MetricsServer, parseListen } from './metrics-server';

/** promtool check metrics reads the exposition on stdin and exits non-zero on problems. */
function promtool(text: string): string {
  return execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

describe('MetricsServer', () => {
  it('serves agent and controller instruments and Node process metrics that pass promtool check metrics', async () => {
    const m = new TrellisMetrics('agent', { node: 'n1' });
    const am = new AgentMetrics(m.meter('trellis.agent'), async () => ({
      peers: [{ name: 'n2', loss: 0, jitterUs: 40, rxBytes: 100, txBytes: 200, handshakeAgeS: 4, up: true }],
      netmapVersion: 3,
      compliant: null,
    }));
    am.setPeerCount(1);
    am.recordProbe('n2', 420);
    am.recordApply(12);
    const cm = new ControllerMetrics(m.meter('trellis.controller'), () => ({ nodes: 4, nodesOnline: 3, streamClients: 3, rebuilds: 2 }));
    cm.recordBuild(1.5);
    cm.recordRequest('/v1/node/telemetry', 'POST', 200, 2.5);
    const server = new MetricsServer({ collect: () => m.collect() });
    const addr = await server.listen('127.0.0.1:0');
    try {
      const res = await fetch(`http://127.0.0.1:${addr.port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0.0.4/);
      const text = await res.text();
      // 420 µs lands in the 0.0005 s bucket; every series names its process.
      expect(text).toMatch(/^trellis_probe_rtt_seconds_bucket\{peer="n2",le="0.0005",service_name="trellis-agent",node="n1"\} 1$/m);
      expect(text).toMatch(/^trellis_probe_rtt_seconds_bucket\{peer="n2",le="0.00025",service_name="trellis-agent",node="n1"\} 0$/m);
      expect(text).toMatch(/^trellis_probe_rtt_seconds_sum\{peer="n2",service_name="trellis-agent",node="n1"\} 0.00042$/m);
      expect(text).toMatch(/^# TYPE trellis_probes_total counter$/m);
      expect(text).toMatch(/^trellis_probes_total\{outcome="answered",peer="n2",service_name="trellis-agent",node="n1"\} 1$/m);
      expect(text).toMatch(/^# TYPE trellis_peer_rx_bytes_total counter$/m);
      expect(text).toMatch(/^trellis_peer_rx_bytes_total\{peer="n2",service_name="trellis-agent",node="n1"\} 100$/m);
      expect(text).toMatch(/^trellis_peer_jitter_seconds\{peer="n2",service_name="trellis-agent",node="n1"\} 0.00004$/m);
      expect(text).toMatch(/^trellis_peer_handshake_age_seconds\{peer="n2",service_name="trellis-agent",node="n1"\} 4$/m);
      expect(text).toMatch(/^trellis_netmap_apply_duration_seconds_sum\{service_name="trellis-agent",node="n1"\} 0.012$/m);
      expect(text).toMatch(/^trellis_nodes_online\{service_name="trellis-agent",node="n1"\} 3$/m);
      expect(text).toMatch(/^trellis_map_rebuilds_total\{service_name="trellis-agent",node="n1"\} 2$/m);
      expect(text).toMatch(/^trellis_map_build_duration_seconds_sum\{service_name="trellis-agent",node="n1"\} 0.0015$/m);
      expect(text).toMatch(/^# TYPE trellis_api_request_duration_seconds histogram$/m);
      expect(text).toMatch(/^target_info\{service_version="\d+\.\d+\.\d+",service_name="trellis-agent",node="n1"\} 1$/m);
      // prom-client's default Node process metrics, labelled the same way.
      for (const family of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_open_fds', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
        expect(text).toMatch(new RegExp(`^${family}\\{service_name="trellis-agent",node="n1"\\} \\d`, 'm'));
      }
      expect(text).toMatch(/^# TYPE nodejs_gc_duration_seconds histogram$/m);
      // No OpenTelemetry-style names remain.
      expect(text).not.toMatch(/unknown_service|trellis_probe_rtt_bucket|trellis_map_build_time/);
      promtool(text); // throws on any problem
      expect((await fetch(`http://127.0.0.1:${addr.port}/other`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${addr.port}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      await server.close();
      await m.shutdown();
    }
  });

  it('keeps the per-peer cardinality cap: above maxPeerSeries only peer="_aggregate" series are served', async () => {
    const m = new TrellisMetrics('agent', { node: 'n1' });
    const peers = ['n2', 'n3', 'n4'].map((name, i) => ({ name, loss: i / 10, jitterUs: 100, rxBytes: 10, txBytes: 20, handshakeAgeS: i, up: true }));
    const am = new AgentMetrics(m.meter('trellis.agent'), async () => ({ peers, netmapVersion: 1, compliant: true }), { maxPeerSeries: 2 });
    am.setPeerCount(3);
    for (const p of peers) am.recordProbe(p.name, 1000);
    const server = new MetricsServer({ collect: () => m.collect() });
    const addr = await server.listen('127.0.0.1:0');
    try {
      const text = await (await fetch(`http://127.0.0.1:${addr.port}/metrics`)).text();
      promtool(text);
      const peerLabels = new Set([...text.matchAll(/^trellis_\w+\{[^}]*peer="([^"]+)"/gm)].map((x) => x[1]));
      expect([...peerLabels]).toEqual(['_aggregate']);
      expect(text).toMatch(/^trellis_probe_rtt_seconds_count\{peer="_aggregate",service_name="trellis-agent",node="n1"\} 3$/m);
      expect(text).toMatch(/^trellis_peer_loss_ratio\{peer="_aggregate",stat="max",service_name="trellis-agent",node="n1"\} 0.2$/m);
      expect(text).toMatch(/^trellis_peer_rx_bytes_total\{peer="_aggregate",service_name="trellis-agent",node="n1"\} 30$/m);
    } finally {
      await server.close();
      await m.shutdown();
    }
  });

  it('answers 500 naming the cause when collection fails, and serves again afterwards', async () => {
    const m = new TrellisMetrics('controller', { node: 'ctl' });
    let fail = true;
    const server = new MetricsServer({
      collect: async () => {
        if (fail) return { resourceMetrics: (await m.collect()).resourceMetrics, errors: [new Error('instrument exploded')] };
        return m.collect();
      },
    });
    const addr = await server.listen('127.0.0.1:0');
    try {
      const bad = await fetch(`http://127.0.0.1:${addr.port}/metrics`);
      expect(bad.status).toBe(500);
      expect(await bad.text()).toMatch(/metrics collection failed: instrument exploded/);
      fail = false;
      const good = await fetch(`http://127.0.0.1:${addr.port}/metrics`);
      expect(good.status).toBe(200);
      expect(await good.text()).toMatch(/^target_info\{service_version="[^"]+",service_name="trellis-controller",node="ctl"\} 1$/m);
    } finally {
      await server.close();
      await m.shutdown();
    }
  });

  it('rejects a listen address that is not host:port, and a port in use, with their codes', async () => {
    expect(() => parseListen('9464')).toThrow(/host:port/);
    expect(() => parseListen('9464')).toThrow(expect.objectContaining({ code: 'TRELLIS_ERR_PROMETHEUS_LISTEN_INVALID' }));
    expect(parseListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    const m = new TrellisMetrics('agent', { node: 'n1' });
    const a = new MetricsServer({ collect: () => m.collect() });
    const b = new MetricsServer({ collect: () => m.collect() });
    const addr = await a.listen('127.0.0.1:0');
    try {
      await expect(b.listen(`127.0.0.1:${addr.port}`)).rejects.toMatchObject({ code: 'TRELLIS_ERR_PROMETHEUS_LISTEN_FAILED', message: expect.stringMatching(/EADDRINUSE.*set config.listen/) });
    } finally {
      await a.close();
      await m.shutdown();
    }
  });
});
