/**
 * The `trellis` command as a user meets it after the setup: on the PATH, from any directory, and
 * `trellis policy test|check` running the real pinned opa on real policy folders. The link is made
 * by the same script the setup runs (scripts/link-trellis-command.sh), into a bin dir of this test's
 * own, so the test does not depend on which checkout last ran the setup on this machine.
 */
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

jest.setTimeout(120_000);

const repo = join(__dirname, '..');
const cli = join(repo, 'core', 'dist', 'cli', 'main.js');
const linkScript = join(repo, 'scripts', 'link-trellis-command.sh');
let tmp: string;
let bin: string;
let cwd: string;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], opts: { cwd?: string; path?: string } = {}): Promise<Ran> {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: opts.path ?? process.env.PATH };
  delete env.TRELLIS_OPA; // the CLI must find the pinned opa by itself
  return new Promise((resolve) => {
    execFile(file, args, { cwd: opts.cwd ?? cwd, env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** trellis runs the command found on a PATH that starts with this test's bin dir. */
const trellis = (...args: string[]) => run('trellis', args, { path: `${bin}:${process.env.PATH}` });

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'trellis-command-e2e-'));
  bin = join(tmp, 'bin');
  cwd = join(tmp, 'somewhere-else');
  mkdirSync(bin);
  mkdirSync(cwd);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the link onto the PATH', () => {
  it('links <bin>/trellis to the built CLI, executable, and says so; a second run changes nothing', async () => {
    const first = await run('bash', [linkScript, bin]);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(`${bin}/trellis -> ${cli}\n`);
    expect(readlinkSync(join(bin, 'trellis'))).toBe(cli);
    expect(lstatSync(cli).mode & 0o111).toBe(0o111);
    const again = await run('bash', [linkScript, bin]);
    expect(again).toEqual({ code: 0, stdout: `${bin}/trellis -> ${cli} (already)\n`, stderr: '' });
  });

  it('repoints a link that points elsewhere, and leaves a regular file alone', async () => {
    const other = join(tmp, 'other-bin');
    mkdirSync(other);
    symlinkSync('/opt/old-checkout/core/dist/cli/main.js', join(other, 'trellis'));
    const fixed = await run('bash', [linkScript, other]);
    expect(fixed.stdout).toBe(`${other}/trellis -> ${cli} (was -> /opt/old-checkout/core/dist/cli/main.js)\n`);
    expect(readlinkSync(join(other, 'trellis'))).toBe(cli);

    const foreign = join(tmp, 'foreign-bin');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'trellis'), '#!/bin/sh\necho not ours\n');
    const refused = await run('bash', [linkScript, foreign]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/left .*foreign-bin\/trellis alone: it is a regular file/);
    expect(lstatSync(join(foreign, 'trellis')).isSymbolicLink()).toBe(false);
  });

  it('--remove takes the link away again', async () => {
    const gone = join(tmp, 'remove-bin');
    mkdirSync(gone);
    await run('bash', [linkScript, gone]);
    const r = await run('bash', [linkScript, '--remove', gone]);
    expect(r).toEqual({ code: 0, stdout: `removed ${gone}/trellis\n`, stderr: '' });
    expect(existsSync(join(gone, 'trellis'))).toBe(false);
  });

  it('the setup has put a trellis command on the system PATH that runs from any directory', async () => {
    const link = '/usr/local/bin/trellis';
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(realpathSync(link)).toMatch(/\/core\/dist\/cli\/main\.js$/);
    const v = await run('trellis', ['--version'], { path: `/usr/local/bin:${process.env.PATH}` });
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^trellis \d+\.\d+\.\d+\n$/);
  });
});

describe('trellis policy test|check with the real opa, from a directory outside the checkout', () => {
  let broken: string;
  let empty: string;
  beforeAll(() => {
    broken = join(tmp, 'broken-policy');
    mkdirSync(broken);
    writeFileSync(join(broken, 'access.rego'), 'package trellis.access\n\nallow if {\n  input.user ==\n}\n');
    empty = join(tmp, 'empty-policy');
    mkdirSync(empty);
  });

  it("policy test passes on the shipped policies/ and prints opa's summary", async () => {
    const r = await trellis('policy', 'test', join(repo, 'policies'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = /^PASS: (\d+)\/(\d+)$/m.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBe(Number(m![2]));
    expect(Number(m![2])).toBeGreaterThanOrEqual(40);
  });

  it('policy check --strict passes on policies/, silently as opa does', async () => {
    expect(await trellis('policy', 'check', join(repo, 'policies'))).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it("a syntax error fails both, with opa's own parse error", async () => {
    for (const sub of ['test', 'check']) {
      const r = await trellis('policy', sub, broken);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${broken}/access.rego:5: rego_parse_error: unexpected } token`);
    }
  });

  it('a folder with no Rego fails both, with a message', async () => {
    const t = await trellis('policy', 'test', empty);
    expect(t.code).toBe(1);
    expect(`${t.stdout}${t.stderr}`).toContain('no tests were run'); // opa's own words (--fail-on-empty)
    const c = await trellis('policy', 'check', empty);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/holds no \.rego files, so opa has nothing to check .*\(TRELLIS_ERR_POLICY_NO_REGO\)\n$/);
  });

  it('a failing test fails, with the test named in the output; flags after -- reach opa', async () => {
    const failing = join(tmp, 'failing-policy');
    mkdirSync(failing);
    writeFileSync(join(failing, 'access.rego'), 'package trellis.access\n\ndefault allow := false\n');
    writeFileSync(join(failing, 'access_test.rego'), 'package trellis.access_test\n\nimport data.trellis.access\n\ntest_allows_everyone if access.allow\n');
    const r = await trellis('policy', 'test', failing, '--', '--format', 'json');
    expect(r.code).toBe(2); // opa test's status for failed tests
    const results = JSON.parse(r.stdout) as Array<{ name: string; fail?: boolean }>;
    expect(results.map((x) => [x.name, x.fail])).toEqual([['test_allows_everyone', true]]);
  });

  it('a missing folder: one line, exit 2', async () => {
    const r = await trellis('policy', 'check', join(tmp, 'nope'));
    expect(r).toEqual({ code: 2, stdout: '', stderr: `trellis: ${join(tmp, 'nope')} does not exist; see trellis policy check --help\n` });
  });
});
