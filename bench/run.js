'use strict';
/**
 * `npm run bench`: runs each benchmark with its baseline side by side in one run, writes
 * bench/results/<name>.json, and prints a table of medians and ratios.
 */
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const SUITES = [
  ['map-delta', () => require('./map-delta').run()],
  ['mesh', () => require('./mesh').run()],
  ['throughput', () => require('./throughput').run()],
  ['telemetry', () => require('./telemetry').run()],
  ['policy', () => require('./policy').run()],
  ['map-change', () => require('./map-change').run()],
  ['shaping', () => require('./shaping').run()],
  ['relay', () => require('./relay').run()],
  ['failover', () => require('./failover').run()],
  ['join20', () => require('./join').run()],
  ['dashboard-queries', () => require('./dashboard-queries').run()],
  ['scale', () => require('./scale').run()],
  ['ha-failover', () => require('./ha-failover').run()],
  ['exit-failover', () => require('./exit-failover').run()],
  ['api-fuzz', () => require('./api-fuzz').run()],
  ['topology', () => require('./topology').run()],
];

function row(r) {
  const fig = r.trellis ? JSON.stringify(r.trellis) : JSON.stringify({ p50Ms: r.p50Ms, p95Ms: r.p95Ms });
  const base = r.baseline ? JSON.stringify({ ...r.baseline, what: undefined, samples: undefined }) : '-';
  return `${r.name.padEnd(12)} ${fig.padEnd(44)} ${base.padEnd(40)} ${String(r.ratio ?? '-').padEnd(8)} ${r.goal} ${r.met ? 'MET' : 'NOT MET'}`;
}

async function main() {
  const only = process.argv.slice(2);
  const out = join(__dirname, 'results');
  mkdirSync(out, { recursive: true });
  const results = [];
  for (const [name, fn] of SUITES) {
    if (only.length > 0 && !only.includes(name)) continue;
    process.stderr.write(`bench: running ${name}...\n`);
    const rs = [].concat(await fn());
    for (const r of rs) {
      r.at = new Date().toISOString();
      writeFileSync(join(out, `${r.name}.json`), JSON.stringify(r, null, 2) + '\n');
      results.push(r);
    }
  }
  console.log(`${'bench'.padEnd(12)} ${'trellis'.padEnd(44)} ${'baseline'.padEnd(40)} ${'ratio'.padEnd(8)} goal`);
  for (const r of results) console.log(row(r));
}

main().catch((e) => {
  console.error(`bench: ${e.message}`);
  process.exit(1);
});
