import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../run-cli';
import { captureIO } from '../testing/capture-io';

/**
 * Argument handling of `trellis policy test|check`. opa is faked at its process boundary by a
 * script that prints the arguments it got and exits with $FAKE_OPA_EXIT; the real opa runs in
 * test/trellis-command.e2e.test.ts.
 */
let tmp: string;
let fakeOpa: string;
let policies: string;
let noRego: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'trellis-policy-opa-'));
  fakeOpa = join(tmp, 'fake-opa');
  writeFileSync(fakeOpa, '#!/bin/sh\nprintf "opa"; for a in "$@"; do printf " [%s]" "$a"; done; printf "\\n"\necho "from stderr" >&2\nexit ${FAKE_OPA_EXIT:-0}\n');
  chmodSync(fakeOpa, 0o755);
  policies = join(tmp, 'policies');
  mkdirSync(join(policies, 'access'), { recursive: true });
  writeFileSync(join(policies, 'access', 'access.rego'), 'package trellis.access\n');
  noRego = join(tmp, 'no-rego');
  mkdirSync(join(noRego, 'sub'), { recursive: true });
  writeFileSync(join(noRego, 'sub', 'data.json'), '{}');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const io = captureIO({ TRELLIS_OPA: fakeOpa, ...env });
  const code = await runCli(argv, io);
  return { code, out: io.out, err: io.err };
}

describe('trellis policy test|check: arguments', () => {
  it('runs opa test --fail-on-empty on the folder and passes opa output and exit status through', async () => {
    const r = await cli(['policy', 'test', policies], { FAKE_OPA_EXIT: '0' });
    expect(r).toEqual({ code: 0, out: `opa [test] [--fail-on-empty] [${policies}]\n`, err: 'from stderr\n' });
    const failed = await cli(['policy', 'test', policies], { FAKE_OPA_EXIT: '3' });
    expect(failed.code).toBe(3);
    expect(failed.out).toBe(`opa [test] [--fail-on-empty] [${policies}]\n`);
  });

  it('runs opa check --strict on the folder', async () => {
    const r = await cli(['policy', 'check', policies]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`opa [check] [--strict] [${policies}]\n`);
  });

  it('hands flags after -- to opa, before the folder', async () => {
    const r = await cli(['policy', 'test', policies, '--', '-v', '--run', 'allow']);
    expect(r.out).toBe(`opa [test] [--fail-on-empty] [-v] [--run] [allow] [${policies}]\n`);
    expect(r.code).toBe(0);
  });

  it('accepts a single .rego file', async () => {
    const file = join(policies, 'access', 'access.rego');
    const r = await cli(['policy', 'check', file]);
    expect(r.out).toBe(`opa [check] [--strict] [${file}]\n`);
  });

  it('a missing folder: one line, exit 2, opa not run', async () => {
    const missing = join(tmp, 'nope');
    const r = await cli(['policy', 'test', missing]);
    expect(r).toEqual({ code: 2, out: '', err: `trellis: ${missing} does not exist; see trellis policy test --help\n` });
    const c = await cli(['policy', 'check', missing]);
    expect(c).toEqual({ code: 2, out: '', err: `trellis: ${missing} does not exist; see trellis policy check --help\n` });
  });

  it('no folder, two folders, an empty one, an unknown flag, a file that is not Rego: exit 2', async () => {
    expect(await cli(['policy', 'test'])).toEqual({
      code: 2,
      out: '',
      err: 'trellis: <dir> is required: the folder of .rego files, e.g. policies/; see trellis policy test --help\n',
    });
    expect((await cli(['policy', 'check', policies, noRego])).err).toBe(
      `trellis: expected one <dir>, got "${policies}" "${noRego}"; pass opa's own flags after --; see trellis policy check --help\n`,
    );
    expect((await cli(['policy', 'check', ''])).err).toBe('trellis: <dir> must not be empty; see trellis policy check --help\n');
    expect((await cli(['policy', 'test', policies, '-v'])).err).toBe('trellis: unknown flag -v; see trellis policy test --help\n');
    const r = await cli(['policy', 'test', join(noRego, 'sub', 'data.json')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/data\.json is neither a folder nor a \.rego file/);
  });

  it('check refuses a folder without .rego files (opa would exit 0 silently); test leaves it to opa', async () => {
    const c = await cli(['policy', 'check', noRego]);
    expect(c.code).toBe(1);
    expect(c.out).toBe('');
    expect(c.err).toBe(
      `trellis: ${noRego} holds no .rego files, so opa has nothing to check (it reports nothing and exits 0); point at a folder of policies, e.g. policies/ (TRELLIS_ERR_POLICY_NO_REGO)\n`,
    );
    const t = await cli(['policy', 'test', noRego]);
    expect(t.out).toBe(`opa [test] [--fail-on-empty] [${noRego}]\n`);
  });

  it('an opa that cannot run: exit 1 naming the binary and the fix', async () => {
    const r = await cli(['policy', 'test', policies], { TRELLIS_OPA: join(tmp, 'no-such-opa') });
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `trellis: the opa CLI at ${join(tmp, 'no-such-opa')} cannot run (ENOENT); build it with \`bash scripts/install-opa.sh\` in the Trellis checkout, or set TRELLIS_OPA to an opa binary (TRELLIS_ERR_POLICY_OPA_MISSING)\n`,
    );
  });

  it('--help describes the command and exits 0; the policy group lists both', async () => {
    const h = await cli(['policy', 'check', '--help']);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/^Usage: trellis policy check <dir> \[-- <opa flags>\]/);
    const g = await cli(['policy', '--help']);
    expect(g.out).toMatch(/policy test +run a policy folder's Rego tests/);
    expect(g.out).toMatch(/policy check +check a policy folder/);
  });
});
