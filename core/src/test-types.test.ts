/**
 * Test files type-check. Jest compiles each file alone (isolatedModules) and so never reports a
 * type error, and the builds leave tests out: this runs tsc over every unit and end-to-end test
 * with the sources they import (tsconfig.tests.json, part of `npm test`).
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');

describe('test files', () => {
  it('type-check with the sources they import (tsc -p tsconfig.tests.json)', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.tests.json', '--pretty', 'false'], {
      cwd: ROOT,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const errors = r.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
    expect(errors).toEqual([]);
    expect(r.status).toBe(0);
  }, 180_000);
});
