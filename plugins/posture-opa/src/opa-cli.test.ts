import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PolicyErrorCode } from './errors';
import { compilePolicies, resolveOpaBinary, testPolicies } from './opa-cli';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'trellis-opa-cli-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

function write(rel: string, text: string): void {
  mkdirSync(join(tmp, rel, '..'), { recursive: true });
  writeFileSync(join(tmp, rel), text);
}

describe('resolveOpaBinary', () => {
  it('finds the pinned opa built by scripts/install-opa.sh', () => {
    expect(resolveOpaBinary()).toBe(resolve(__dirname, '../../../.opa/bin/opa'));
  });
});

describe('compilePolicies', () => {
  it('builds the shipped access and posture policies alone, leaving out every optional entrypoint they lack', async () => {
    for (const d of ['access', 'posture']) cpSync(resolve(__dirname, '../../../policies', d), join(tmp, d), { recursive: true });
    const out = await compilePolicies(tmp, { outFile: join(tmp, 'bundle.tgz') });
    expect(out.version).toMatch(/^[0-9a-f]{64}$/);
  }, 120_000);

  it('builds a wasm bundle from domain folders and returns its sha256 version', async () => {
    write('demo/demo.rego', 'package trellis.demo\n\nallow if input.user == data.trellis.admin\n');
    write('demo/data.json', '{"trellis": {"admin": "root"}}');
    write('demo/demo_test.rego', 'package trellis.demo_test\n\ntest_x if data.trellis.demo.allow with input as {"user": "root"}\n');
    const out = await compilePolicies(tmp, { entrypoints: ['trellis/demo/allow'] });
    expect(out.bundlePath).toBe(join(tmp, 'dist', 'bundle.tgz'));
    expect(out.version).toBe(createHash('sha256').update(readFileSync(out.bundlePath)).digest('hex'));
  });

  it("refuses Rego that does not compile, with the compiler's own message", async () => {
    write('bad.rego', 'package trellis.bad\n\nallow if {\n  input.x ==\n}\n');
    const err = await compilePolicies(tmp, { entrypoints: ['trellis/bad/allow'] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: PolicyErrorCode.COMPILE_FAILED });
    expect((err as Error).message).toMatch(/^opa build refused the policies in .*:\n/);
    expect((err as Error).message).toContain('rego_parse_error');
    expect((err as Error).message).toContain('bad.rego:');
  });

  it('refuses an unsafe rule and an unknown entrypoint', async () => {
    write('unsafe.rego', 'package trellis.unsafe\n\nallow if x > 1\n');
    await expect(compilePolicies(tmp, { entrypoints: ['trellis/unsafe/allow'] })).rejects.toThrow(/rego_unsafe_var_error: var x is unsafe/);
    write('unsafe.rego', 'package trellis.unsafe\n\nallow := true\n');
    await expect(compilePolicies(tmp, { entrypoints: ['trellis/unsafe/deny'] })).rejects.toThrow(/trellis\/unsafe\/deny/);
  });

  it('refuses a folder without Rego', async () => {
    write('notes/readme.md', 'nothing here');
    await expect(compilePolicies(tmp)).rejects.toThrow(/no .rego files found/);
  });

  it('says how to get opa when it is missing', async () => {
    write('ok.rego', 'package t\n\nx := 1\n');
    await expect(compilePolicies(tmp, { opaPath: join(tmp, 'no-opa') })).rejects.toMatchObject({
      code: PolicyErrorCode.OPA_MISSING,
      message: expect.stringContaining('scripts/install-opa.sh'),
    });
  });
});

describe('testPolicies', () => {
  it('passes when every test passes', async () => {
    write('p.rego', 'package trellis.p\n\nallow if input.port == 22\n');
    write('p_test.rego', 'package trellis.p_test\n\ntest_ssh if data.trellis.p.allow with input as {"port": 22}\n');
    await expect(testPolicies(tmp)).resolves.toMatch(/PASS: 1\/1/);
  });

  it("refuses failing tests with opa's own report", async () => {
    write('p.rego', 'package trellis.p\n\nallow if input.port == 22\n');
    write('p_test.rego', 'package trellis.p_test\n\ntest_telnet if data.trellis.p.allow with input as {"port": 23}\n');
    const err = await testPolicies(tmp).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: PolicyErrorCode.TESTS_FAILED });
    expect((err as Error).message).toContain('data.trellis.p_test.test_telnet: FAIL');
    expect((err as Error).message).toContain('FAIL: 1/1');
  });

  it('refuses tests that do not compile', async () => {
    write('p_test.rego', 'package trellis.p_test\n\ntest_x if {\n');
    await expect(testPolicies(tmp)).rejects.toThrow(/rego_parse_error/);
  });
});
