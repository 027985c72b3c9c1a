import { execFileSync } from 'node:child_process';
import { TrellisMetrics } from '@trellis/core';
import { Registry } from 'prom-client';
import { OtelBridge } from './otel-bridge';
import { labelName, metricName } from './prometheus-names';

const promtool = (text: string) => execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });

describe('metricName', () => {
  it('leaves names that follow the conventions alone', () => {
    expect(metricName('trellis_probe_rtt_seconds', 's', 'histogram')).toBe('trellis_probe_rtt_seconds');
    expect(metricName('trellis_peer_rx_bytes_total', 'By', 'counter')).toBe('trellis_peer_rx_bytes_total');
    expect(metricName('trellis_peer_loss_ratio', '1', 'gauge')).toBe('trellis_peer_loss_ratio');
  });

  it('adds the unit in words and _total, and replaces invalid characters', () => {
    expect(metricName('plugin.request.time', 'ms', 'histogram')).toBe('plugin_request_time_seconds');
    expect(metricName('plugin.buffer', 'KiBy', 'gauge')).toBe('plugin_buffer_bytes');
    expect(metricName('plugin.cache.hits', '{hits}', 'counter')).toBe('plugin_cache_hits_total');
    expect(metricName('plugin.sent', 'By', 'counter')).toBe('plugin_sent_bytes_total');
    expect(metricName('plugin.rate', 'By/s', 'gauge')).toBe('plugin_rate_bytes_per_second');
    expect(metricName('plugin.utilisation', '1', 'gauge')).toBe('plugin_utilisation_ratio');
    expect(labelName('net.peer.name')).toBe('net_peer_name');
    expect(labelName('2xx')).toBe('key_2xx');
  });
});

describe('OtelBridge', () => {
  it("mirrors each collection: plugin instruments renamed, series that stopped reporting gone, clashes with process metrics skipped", async () => {
    const m = new TrellisMetrics('agent', { node: 'n1' });
    const meter = m.meter('trellis.plugin.example');
    const hist = meter.createHistogram('example.request.time', { unit: 'ms', description: 'Example request time', advice: { explicitBucketBoundaries: [1, 10] } });
    const hits = meter.createCounter('example.hits');
    const clash = meter.createObservableGauge('process_open_fds');
    clash.addCallback((o) => o.observe(1));
    let peers = ['a', 'b'];
    const gauge = meter.createObservableGauge('example_queue_depth');
    gauge.addCallback((o) => peers.forEach((p, i) => o.observe(i, { 'peer.name': p })));
    hist.record(0.5);
    hist.record(5);
    hist.record(50);
    hits.add(2, { route: '/x' });
    const warnings: string[] = [];
    const bridge = new OtelBridge({ reserved: () => new Set(['process_open_fds']), warn: (w) => warnings.push(w) });
    try {
      bridge.update((await m.collect()).resourceMetrics);
      let text = await bridge.registry.metrics();
      promtool(text);
      expect(text).toContain('# HELP example_request_time_seconds Example request time');
      // Recorded in ms, served in seconds: boundaries and sum divided by 1000.
      expect(text).toMatch(/^example_request_time_seconds_bucket\{le="0.001"\} 1$/m);
      expect(text).toMatch(/^example_request_time_seconds_bucket\{le="0.01"\} 2$/m);
      expect(text).toMatch(/^example_request_time_seconds_bucket\{le="\+Inf"\} 3$/m);
      expect(text).toMatch(/^example_request_time_seconds_sum 0.0555$/m);
      expect(text).toMatch(/^example_request_time_seconds_count 3$/m);
      expect(text).toMatch(/^example_hits_total\{route="\/x"\} 2$/m);
      expect(text).toMatch(/^example_queue_depth\{peer_name="b"\} 1$/m);
      expect(text).not.toContain('process_open_fds');
      expect(warnings).toEqual([expect.stringMatching(/process_open_fds .*like a Node.js process metric/)]);

      peers = ['a'];
      hits.add(1, { route: '/x' });
      bridge.update((await m.collect()).resourceMetrics);
      text = await bridge.registry.metrics();
      expect(text).not.toMatch(/peer_name="b"/);
      expect(text).toMatch(/^example_hits_total\{route="\/x"\} 3$/m);

      peers = [];
      bridge.update((await m.collect()).resourceMetrics);
      expect(await bridge.registry.metrics()).not.toContain('example_queue_depth');
      expect(warnings).toHaveLength(1); // told once, not every scrape
      // The bridge's families merge with other prom-client registries, as the exposition does.
      const merged = Registry.merge([new Registry(), bridge.registry]);
      expect(await merged.metrics()).toContain('example_hits_total');
    } finally {
      await m.shutdown();
    }
  });
});
