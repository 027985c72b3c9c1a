import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveOpaBinary } from './opa-binary';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'trellis-opa-binary-'));
  for (const repo of ['cwd-repo', 'code-repo']) {
    mkdirSync(join(tmp, repo, '.opa', 'bin'), { recursive: true });
    mkdirSync(join(tmp, repo, 'deep', 'er'), { recursive: true });
    writeFileSync(join(tmp, repo, '.opa', 'bin', 'opa'), '#!/bin/sh\n');
    chmodSync(join(tmp, repo, '.opa', 'bin', 'opa'), 0o755);
  }
  mkdirSync(join(tmp, 'elsewhere'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('resolveOpaBinary', () => {
  it('prefers $TRELLIS_OPA', () => {
    expect(resolveOpaBinary({ env: { TRELLIS_OPA: '/x/opa' }, cwd: join(tmp, 'cwd-repo') })).toBe('/x/opa');
  });
  it('then .opa/bin/opa of the checkout enclosing the working directory', () => {
    expect(resolveOpaBinary({ env: {}, cwd: join(tmp, 'cwd-repo', 'deep', 'er'), codeDir: join(tmp, 'code-repo') })).toBe(
      join(tmp, 'cwd-repo', '.opa', 'bin', 'opa'),
    );
  });
  it("then the one of the checkout holding the CLI's code, from any working directory", () => {
    expect(resolveOpaBinary({ env: {}, cwd: join(tmp, 'elsewhere'), codeDir: join(tmp, 'code-repo', 'deep', 'er') })).toBe(
      join(tmp, 'code-repo', '.opa', 'bin', 'opa'),
    );
  });
  it('else opa on the PATH', () => {
    expect(resolveOpaBinary({ env: { TRELLIS_OPA: '' }, cwd: join(tmp, 'elsewhere'), codeDir: join(tmp, 'elsewhere') })).toBe('opa');
  });
});
