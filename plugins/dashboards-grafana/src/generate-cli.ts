#!/usr/bin/env node
/**
 * generate-cli: `node dist/generate-cli.js [--out dashboards] [--thresholds file.yaml|json]`
 * regenerates dashboards/ (the Nx `generate` target). Exits 1 with the error's message on bad
 * thresholds, so a typo never produces half a directory.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generate, writeGenerated } from './generate';
import { loadThresholds } from './thresholds';

function main(): number {
  const { values } = parseArgs({ options: { out: { type: 'string' }, thresholds: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write('Usage: trellis-dashboards-generate [--out dashboards] [--thresholds thresholds.yaml]\n');
    return 0;
  }
  const out = resolve(values.out ?? 'dashboards');
  const thresholds = values.thresholds ? loadThresholds(resolve(values.thresholds)) : undefined;
  const g = generate({ thresholds });
  const r = writeGenerated(out, g);
  process.stdout.write(`dashboards: ${r.written.length} written, ${r.unchanged.length} unchanged, ${r.removed.length} removed in ${out}\n`);
  return 0;
}

try {
  process.exitCode = main();
} catch (err) {
  const e = err as { message?: string; code?: string };
  process.stderr.write(`trellis-dashboards-generate: ${e.message ?? String(err)}${e.code ? ` (${e.code})` : ''}\n`);
  process.exitCode = 1;
}
