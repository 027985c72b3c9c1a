import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findUpward } from './find-upward';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'trellis-find-upward-'));
  mkdirSync(join(tmp, 'repo', 'policies', 'dist'), { recursive: true });
  mkdirSync(join(tmp, 'repo', 'a', 'b'), { recursive: true });
  mkdirSync(join(tmp, 'other'), { recursive: true });
  writeFileSync(join(tmp, 'repo', 'policies', 'dist', 'bundle.tgz'), '');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('findUpward', () => {
  it('finds the file in a parent of the first start that has it', () => {
    expect(findUpward('policies/dist/bundle.tgz', [join(tmp, 'other'), join(tmp, 'repo', 'a', 'b')])).toBe(join(tmp, 'repo', 'policies', 'dist', 'bundle.tgz'));
  });

  it('is null when no start or parent has it', () => {
    expect(findUpward('policies/dist/none.tgz', [join(tmp, 'repo', 'a')])).toBeNull();
  });
});
