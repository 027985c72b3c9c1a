/**
 * dashboards/ is generated: regenerating into a temp dir must give exactly the committed files,
 * byte for byte, and two generations must be identical (no timestamps, stable key order).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generate, managedFiles, writeGenerated } from '@trellis/plugin-dashboards-grafana';

const REPO_DIR = resolve(__dirname, '../dashboards');

test('dashboards/ matches a fresh generation (run `npx nx run plugin-dashboards-grafana:generate` if not)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'trellis-dash-fresh-'));
  try {
    writeGenerated(tmp, generate());
    const fresh = managedFiles(tmp);
    expect(managedFiles(REPO_DIR)).toEqual(fresh);
    const stale = fresh.filter((f) => readFileSync(join(tmp, f), 'utf8') !== readFileSync(join(REPO_DIR, f), 'utf8'));
    expect(stale).toEqual([]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('generation is deterministic', () => {
  const a = generate();
  const b = generate();
  expect([...a.files.keys()]).toEqual([...b.files.keys()]);
  for (const [k, v] of a.files) expect(b.files.get(k)).toBe(v);
  for (const v of a.files.values()) expect(v).not.toMatch(/20\d\d-\d\d-\d\dT\d\d:\d\d/);
});
