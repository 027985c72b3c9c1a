'use strict';
/**
 * Runs the compiled metrics-otlp plugin in a plain Node runtime for otlp-push.test.ts: the OTLP
 * exporter loads node:http with a dynamic import(), which Jest's VM cannot run. Loads the plugin
 * and a neighbour plugin through core's PluginHost with the config given as argv[2], records two
 * probes to peer n2, prints {"names": [...]} once setup is done, pino logs as JSON lines, and
 * {"exported": n} after stdin closes and the host has shut down.
 */
const pino = require('pino');
const { AgentMetrics, PluginHost, TrellisMetrics } = require('@trellis/core');
const { definePlugin } = require('@trellis/core/api');
const { metricsOtlpPlugin, otlpPush } = require('../dist/index.js');

async function main() {
  const config = JSON.parse(process.argv[2]);
  const m = new TrellisMetrics('agent', { node: 'n1' });
  const am = new AgentMetrics(m.meter('trellis.agent'), async () => ({ peers: [], netmapVersion: 1, compliant: null }));
  am.recordProbe('n2', 420);
  am.recordProbe('n2', 380);
  let neighbourRan = false;
  const neighbour = definePlugin({ manifest: { name: 'neighbour', version: '0.0.1', apiRange: '^1.0.0' }, setup: () => void (neighbourRan = true) });
  const host = new PluginHost('agent', pino({ level: 'info' }));
  await host.start([{ plugin: metricsOtlpPlugin, config }, { plugin: neighbour, config: {} }], { metrics: { collect: () => m.collect() } });
  process.stdout.write(JSON.stringify({ names: host.names(), neighbourRan }) + '\n');
  process.stdin.resume();
  await new Promise((r) => process.stdin.once('end', r));
  const exported = otlpPush()?.exported ?? null;
  await host.shutdown();
  await m.shutdown();
  process.stdout.write(JSON.stringify({ exported, after: otlpPush() === null }) + '\n');
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ fatal: String(err && err.stack) }) + '\n');
  process.exit(1);
});
