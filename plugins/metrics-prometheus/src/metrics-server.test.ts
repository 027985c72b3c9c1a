import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentMetrics, ControllerMetrics, TrellisMetrics } from '@trellis/core';
import { MetricsServer, parseListen } from './metrics-server';

/** promtool check metrics reads the exposition on stdin and exits non-zero on problems. */
function promtool(text: string): string {
  return execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

describe('MetricsServer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-prom-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves agent and controller instruments that pass promtool check metrics', async () => {
    const m = new TrellisMetrics('agent');
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
      writeFileSync(join(dir, 'metrics.txt'), text);
      expect(text).toMatch(/trellis_probe_rtt_bucket\{peer="n2",le="0.5"\} 1/);
      expect(text).toMatch(/trellis_nodes_online 3/);
      promtool(text); // throws on any problem
      expect((await fetch(`http://127.0.0.1:${addr.port}/other`)).status).toBe(404);
    } finally {
      await server.close();
      await m.shutdown();
    }
  });

  it('rejects a listen address that is not host:port', () => {
    expect(() => parseListen('9464')).toThrow(/host:port/);
    expect(parseListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
  });
});
