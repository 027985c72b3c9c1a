'use strict';
/**
 * api-fuzz: the long fuzz run of the controller's API (test/api-fuzz.e2e.test.ts with a bigger
 * budget: 600 s of requests, up to 2000 per operation). The figure is how many requests it sent and
 * what they got; the goal is no finding (no 5xx, no hang, no change on refusal). TRELLIS_FUZZ_SECONDS
 * and TRELLIS_FUZZ_RUNS override the budget.
 */
const { spawnSync } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');

async function run() {
  const root = resolve(__dirname, '..');
  const dir = mkdtempSync(join(tmpdir(), 'trellis-bench-fuzz-'));
  const report = join(dir, 'report.json');
  const seconds = Number(process.env.TRELLIS_FUZZ_SECONDS ?? 600);
  try {
    const r = spawnSync(process.execPath, [join(root, 'node_modules/jest/bin/jest.js'), '--selectProjects', 'e2e', '--testPathPattern', 'test/api-fuzz', '--ci'], {
      cwd: root,
      env: { ...process.env, TRELLIS_FUZZ_SECONDS: String(seconds), TRELLIS_FUZZ_RUNS: process.env.TRELLIS_FUZZ_RUNS ?? '2000', TRELLIS_FUZZ_REPORT: report, TRELLIS_FUZZ_DIFF: join(dir, 'diff.txt') },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    let summary = null;
    try {
      summary = JSON.parse(readFileSync(report, 'utf8'));
    } catch {
      summary = null;
    }
    const finding = r.status === 0 ? null : (r.stderr.match(/Cause:\n\s+([^\n]+)/) ?? r.stderr.match(/●[^\n]*\n\n\s+([^\n]+)/) ?? [null, 'see the jest output'])[1].slice(0, 500);
    return {
      name: 'api-fuzz',
      trellis: summary ? { requests: summary.requests, operations: summary.operations, seconds: summary.seconds, byStatus: summary.byStatus } : { requests: 0 },
      baseline: null,
      goal: 'no 5xx, no hang, no store change on a refused request',
      met: r.status === 0,
      finding,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { run };
