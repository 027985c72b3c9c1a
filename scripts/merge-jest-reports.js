#!/usr/bin/env node
/**
 * merge-jest-reports <out.json> <report.json>...: one Jest JSON report (--json) from several runs of
 * the same suite (scripts/test.sh runs the unit and end-to-end projects side by side): the counts
 * add up, the file results follow one another, and the run succeeded only if every part did.
 */
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');

const [out, ...inputs] = process.argv.slice(2);
if (!out || inputs.length === 0) {
  console.error('usage: merge-jest-reports <out.json> <report.json>...');
  process.exit(2);
}
const reports = inputs.map((f) => JSON.parse(readFileSync(f, 'utf8')));
const merged = { ...reports[0], testResults: [], openHandles: [] };
for (const key of Object.keys(reports[0])) {
  if (key.startsWith('num')) merged[key] = reports.reduce((sum, r) => sum + (r[key] ?? 0), 0);
}
merged.startTime = Math.min(...reports.map((r) => r.startTime));
merged.success = reports.every((r) => r.success === true);
merged.wasInterrupted = reports.some((r) => r.wasInterrupted === true);
for (const r of reports) {
  merged.testResults.push(...(r.testResults ?? []));
  merged.openHandles.push(...(r.openHandles ?? []));
}
const snapshots = reports.map((r) => r.snapshot).filter(Boolean);
if (snapshots.length > 0) {
  merged.snapshot = { ...snapshots[0] };
  for (const [key, value] of Object.entries(snapshots[0])) {
    if (typeof value === 'number') merged.snapshot[key] = snapshots.reduce((sum, s) => sum + (s[key] ?? 0), 0);
    else if (typeof value === 'boolean') merged.snapshot[key] = snapshots.some((s) => s[key] === true);
    else if (Array.isArray(value)) merged.snapshot[key] = snapshots.flatMap((s) => s[key] ?? []);
  }
}
writeFileSync(out, JSON.stringify(merged));
