import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PolicyErrorCode } from './errors';
import { compilePolicies, OPTIONAL_POLICY_ENTRYPOINTS, POLICY_ENTRYPOINTS } from './opa-cli';
import { loadPolicyBundle, parsePolicyBundle } from './policy-bundle';
import { readTar } from './tar-reader';

const POLICIES = resolve(__dirname, '../../../policies');
let tmp: string;
let bundlePath: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'trellis-bundle-'));
  ({ bundlePath } = await compilePolicies(POLICIES, { outFile: join(tmp, 'bundle.tgz') }));
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('loadPolicyBundle', () => {
  it('extracts policy.wasm, data.json and the manifest entrypoints from opa build output', async () => {
    const bundle = await loadPolicyBundle(bundlePath);
    expect(bundle.wasm.subarray(0, 4)).toEqual(Buffer.from([0, 0x61, 0x73, 0x6d]));
    // opa may list more (rules it plans separately, e.g. those reading data.trellis.access_index).
    expect(bundle.entrypoints).toEqual(expect.arrayContaining([...POLICY_ENTRYPOINTS, ...OPTIONAL_POLICY_ENTRYPOINTS]));
    expect(bundle.data).toMatchObject({ trellis: { acls: { rules: [{ name: 'default-allow-all', src: ['*'], dst: ['*'] }] }, posture_config: { minKernelVersion: '5.10' } } });
    expect(bundle.version).toBe(createHash('sha256').update(readFileSync(bundlePath)).digest('hex'));
    expect(bundle.source).toBe(bundlePath);
  });

  it('loads a bare wasm module with empty data', async () => {
    const wasm = (await loadPolicyBundle(bundlePath)).wasm;
    const wasmPath = join(tmp, 'policy.wasm');
    writeFileSync(wasmPath, wasm);
    const bundle = await loadPolicyBundle(wasmPath);
    expect(bundle.data).toEqual({});
    expect(bundle.entrypoints).toEqual([]);
    expect(bundle.version).toBe(createHash('sha256').update(wasm).digest('hex'));
  });

  it('refuses what is not a bundle, naming the file and what to do', async () => {
    await expect(loadPolicyBundle(join(tmp, 'missing.tar.gz'))).rejects.toMatchObject({
      code: PolicyErrorCode.BUNDLE_INVALID,
      message: expect.stringContaining('cannot be read (ENOENT)'),
    });
    expect(() => parsePolicyBundle(Buffer.from('package x'), 'x.rego')).toThrow(/neither a gzip-compressed bundle .* nor a wasm module/);
    expect(() => parsePolicyBundle(gzipSync(Buffer.from('not a tar archive at all')), 'junk.tar.gz')).toThrow(/cannot be unpacked/);
  });

  it('refuses a tarball without policy.wasm, listing what it holds', () => {
    const dir = join(tmp, 'plain');
    execFileSync('mkdir', ['-p', dir]);
    writeFileSync(join(dir, 'data.json'), '{}');
    const tgz = join(tmp, 'plain.tar.gz');
    execFileSync('tar', ['czf', tgz, '-C', dir, 'data.json']);
    expect(() => parsePolicyBundle(readFileSync(tgz), 'plain.tar.gz')).toThrow(/has no policy.wasm \(it holds: data.json\); build it with -t wasm/);
  });
});

describe('readTar', () => {
  it('reads long PAX names and rejects a corrupt header', () => {
    const dir = join(tmp, 'long');
    const name = `${'a'.repeat(120)}.txt`;
    execFileSync('mkdir', ['-p', dir]);
    writeFileSync(join(dir, name), 'hello');
    const tar = execFileSync('tar', ['--format=pax', '-cf', '-', '-C', dir, name]);
    expect(readTar(tar)).toEqual([{ path: name, content: Buffer.from('hello') }]);
    const corrupt = Buffer.from(tar);
    corrupt[10] ^= 0xff;
    expect(() => readTar(corrupt)).toThrow(/bad checksum/);
  });
});
