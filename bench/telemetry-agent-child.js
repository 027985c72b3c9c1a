'use strict';
/**
 * Child process of bench/telemetry.js: the agent's probe path for 50 peers on loopback. MODE=full
 * also runs the telemetry pipeline (TelemetryBuffer batches posted every 2 s to SINK, tunnel-less)
 * and the OpenTelemetry instruments; MODE=probes is the bare ProbeScheduler. Prints READY once probing.
 */
const { join } = require('node:path');
const core = (p) => require(join(__dirname, '..', 'core', 'dist', p));
const { ProbeScheduler } = core('agent/probes/probe-scheduler.js');
const { TelemetryBuffer } = core('agent/telemetry/telemetry-buffer.js');
const { TrellisMetrics } = core('metrics/trellis-metrics.js');
const { AgentMetrics } = core('metrics/agent-metrics.js');

const PEERS = Number(process.env.PEERS ?? 50);
const BASE_PORT = Number(process.env.BASE_PORT);
const MODE = process.env.MODE ?? 'full';
const SINK = process.env.SINK;

async function main() {
  let onSample;
  const names = new Map(Array.from({ length: PEERS }, (_, i) => [`peer-${i}`, `p${i}`]));
  if (MODE === 'full') {
    const buffer = new TelemetryBuffer({ maxRows: 50_000 });
    const metrics = new TrellisMetrics('agent');
    const am = new AgentMetrics(metrics.meter('trellis.agent'), async () => ({ peers: [], netmapVersion: 1, compliant: null }));
    am.setPeerCount(PEERS);
    let base = Date.now() * 1000;
    onSample = (s) => {
      const dst = names.get(s.peerId);
      buffer.addProbe({ ts: s.sentAt, src: 'bench', dst, path: 'direct', seq: base + s.seq, rttUs: s.rttUs, lost: s.rttUs === null, jitterUs: s.jitterUs });
      am.recordProbe(dst, s.rttUs);
    };
    setInterval(async () => {
      buffer.seal();
      for (let b = buffer.next(); b; b = buffer.next()) {
        try {
          const res = await fetch(SINK, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ batchId: b.batchId, sentAt: Date.now(), probes: b.probes, tunnels: b.tunnels }) });
          await res.text();
          buffer.ack(b.batchId);
        } catch {
          buffer.release();
          break;
        }
      }
    }, 2000);
  }
  const s = new ProbeScheduler({ bindAddress: '127.0.0.1', port: 0, intervalMs: 1000, nodeId: 'bench-agent', onSample });
  await s.start();
  s.setPeers(Array.from({ length: PEERS }, (_, i) => ({ id: `peer-${i}`, name: `p${i}`, address: '127.0.0.1', port: BASE_PORT + i })));
  process.stdout.write('READY\n');
  process.on('SIGTERM', () => {
    const st = s.stats();
    process.stdout.write(JSON.stringify({ sent: st.reduce((a, p) => a + p.sent, 0), received: st.reduce((a, p) => a + p.received, 0) }) + '\n');
    process.exit(0);
  });
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
