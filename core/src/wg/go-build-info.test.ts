import { existsSync } from 'node:fs';
import { commitOfPseudoVersion, parseGoBuildDependencies, parseGoBuildInfo, readGoBuildInfo } from './go-build-info';

const uvarint = (n: number): Buffer => {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
};
const str = (s: string) => Buffer.concat([uvarint(Buffer.byteLength(s)), Buffer.from(s)]);
const SENTINEL = Buffer.alloc(16, 0x30);

/** binaryWith lays out a Go 1.18+ build info blob at a 16-byte aligned offset, after some noise. */
function binaryWith(goVersion: string, modinfo: string, flags = 0x2): Buffer {
  const header = Buffer.alloc(32);
  Buffer.from('\xff Go buildinf:', 'latin1').copy(header, 0);
  header[14] = 8;
  header[15] = flags;
  const noise = Buffer.alloc(48, 0x41);
  // A decoy copy of the magic that is not 16-byte aligned must be skipped.
  Buffer.from('\xff Go buildinf:', 'latin1').copy(noise, 3);
  return Buffer.concat([noise, header, str(goVersion), str(SENTINEL.toString('latin1') + modinfo + SENTINEL.toString('latin1')), Buffer.alloc(7)]);
}

describe('parseGoBuildInfo', () => {
  it('reads the toolchain, the main package and the main module version', () => {
    const modinfo = [
      'path\tgolang.zx2c4.com/wireguard',
      'mod\tgolang.zx2c4.com/wireguard\tv0.0.0-20260522210424-ecfc5a8d5446\th1:abc=',
      'dep\tgolang.org/x/sys\tv0.32.0\th1:def=',
      'build\tCGO_ENABLED=0',
      '',
    ].join('\n');
    expect(parseGoBuildInfo(binaryWith('go1.26.8', modinfo))).toEqual({
      goVersion: 'go1.26.8',
      path: 'golang.zx2c4.com/wireguard',
      moduleVersion: 'v0.0.0-20260522210424-ecfc5a8d5446',
    });
  });

  it('leaves the module version out when the build recorded none, as Debian builds do', () => {
    expect(parseGoBuildInfo(binaryWith('go1.19.8', 'path\tgolang.zx2c4.com/wireguard\nbuild\t-trimpath=true\n'))).toEqual({
      goVersion: 'go1.19.8',
      path: 'golang.zx2c4.com/wireguard',
      moduleVersion: null,
    });
    expect(parseGoBuildInfo(binaryWith('go1.22.0', 'path\tx\nmod\tx\t(devel)\t\n'))?.moduleVersion).toBeNull();
  });

  it('returns null for files without build info or with the pre-1.18 pointer layout', () => {
    expect(parseGoBuildInfo(Buffer.from('#!/bin/sh\necho hi\n'))).toBeNull();
    expect(parseGoBuildInfo(binaryWith('go1.16', 'path\tx\n', 0x0))).toBeNull();
    // Truncated right after the header: no strings to read.
    const cut = binaryWith('go1.26.8', 'path\tx\n').subarray(0, 48 + 33);
    expect(parseGoBuildInfo(cut)).toBeNull();
  });
});

describe('parseGoBuildDependencies', () => {
  it('lists the linked modules, a replacement by its version', () => {
    const modinfo = [
      'path\ttrellis-wg',
      'mod\ttrellis-wg\t(devel)\t',
      'dep\tgolang.org/x/sys\tv0.32.0\th1:def=',
      'dep\tgolang.zx2c4.com/wireguard\tv0.0.0-20260522210424-ecfc5a8d5446\th1:abc=',
      'dep\texample.com/forked\tv1.0.0',
      '=>\texample.com/fork\tv1.0.1\th1:ghi=',
      'build\tCGO_ENABLED=0',
      '',
    ].join('\n');
    expect(parseGoBuildDependencies(binaryWith('go1.26.8', modinfo))).toEqual({
      'golang.org/x/sys': 'v0.32.0',
      'golang.zx2c4.com/wireguard': 'v0.0.0-20260522210424-ecfc5a8d5446',
      'example.com/forked': 'v1.0.1',
    });
    expect(parseGoBuildDependencies(Buffer.from('not a Go binary'))).toBeNull();
  });

  it('keeps the required version of a module replaced by a local directory (a patched copy of it)', () => {
    const modinfo = [
      'path\ttrellis-wg',
      'mod\ttrellis-wg\t(devel)\t',
      'dep\tgolang.zx2c4.com/wireguard\tv0.0.0-20260522210424-ecfc5a8d5446\t',
      '=>\t./third_party/wireguard-go\t(devel)\t',
      '',
    ].join('\n');
    expect(parseGoBuildDependencies(binaryWith('go1.26.8', modinfo))).toEqual({ 'golang.zx2c4.com/wireguard': 'v0.0.0-20260522210424-ecfc5a8d5446' });
  });
});

describe('commitOfPseudoVersion', () => {
  it('finds the commit in each pseudo-version form and none in a release', () => {
    expect(commitOfPseudoVersion('v0.0.0-20260522210424-ecfc5a8d5446')).toBe('ecfc5a8d5446');
    expect(commitOfPseudoVersion('v1.2.4-0.20230101000000-abcdefabcdef')).toBe('abcdefabcdef');
    expect(commitOfPseudoVersion('v1.2.3-pre.0.20230101000000-0123456789ab')).toBe('0123456789ab');
    expect(commitOfPseudoVersion('v1.2.3')).toBeNull();
    expect(commitOfPseudoVersion('v1.2.3-rc1')).toBeNull();
  });
});

// The real binaries, when setup installed them: the bundled build names its commit, Debian's does not.
const BUNDLED = '/usr/local/lib/trellis/wireguard-go';
(existsSync(BUNDLED) ? it : it.skip)('reads the bundled wireguard-go build', async () => {
  const info = await readGoBuildInfo(BUNDLED);
  expect(info?.path).toBe('golang.zx2c4.com/wireguard');
  expect(commitOfPseudoVersion(info?.moduleVersion ?? '')).toMatch(/^[0-9a-f]{12}$/);
});
(existsSync('/usr/bin/wireguard-go') ? it : it.skip)("reads Debian's wireguard-go build", async () => {
  const info = await readGoBuildInfo('/usr/bin/wireguard-go');
  expect(info?.goVersion).toMatch(/^go1\./);
  expect(info?.moduleVersion).toBeNull();
});
