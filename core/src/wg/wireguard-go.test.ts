import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  BUNDLED_WIREGUARD_GO,
  chooseWireguardGo,
  describeWireguardGo,
  executableOf,
  findWireguardGoPid,
  resolveWireguardGo,
  wireguardGoVersion,
} from './wireguard-go';

describe('resolveWireguardGo', () => {
  const saved = process.env.TRELLIS_WIREGUARD_GO;
  afterEach(() => {
    if (saved === undefined) delete process.env.TRELLIS_WIREGUARD_GO;
    else process.env.TRELLIS_WIREGUARD_GO = saved;
  });

  it('prefers the explicit path, then the environment', () => {
    process.env.TRELLIS_WIREGUARD_GO = '/opt/wg/wireguard-go';
    expect(resolveWireguardGo('/x/wireguard-go')).toBe('/x/wireguard-go');
    expect(resolveWireguardGo()).toBe('/opt/wg/wireguard-go');
  });

  it('falls back to the bundled build or PATH', () => {
    delete process.env.TRELLIS_WIREGUARD_GO;
    const got = resolveWireguardGo();
    if (existsSync(BUNDLED_WIREGUARD_GO)) expect(got).toBe(BUNDLED_WIREGUARD_GO);
    else expect(got).toMatch(/(^|\/)wireguard-go$/);
  });
});

const installed = existsSync('/usr/bin/wireguard-go') || existsSync(BUNDLED_WIREGUARD_GO);
(installed ? it : it.skip)('wireguardGoVersion reads the version line', async () => {
  delete process.env.TRELLIS_WIREGUARD_GO;
  expect(await wireguardGoVersion(resolveWireguardGo())).toMatch(/^v?\d+\.\d+\.\d+/);
});

it('wireguardGoVersion fails clearly for a missing binary', async () => {
  await expect(wireguardGoVersion('/nonexistent/wireguard-go')).rejects.toMatchObject({ code: 'TRELLIS_ERR_COMMAND_FAILED' });
});

describe('chooseWireguardGo', () => {
  const saved = { env: process.env.TRELLIS_WIREGUARD_GO, path: process.env.PATH };
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'trellis-wggo-'));
    delete process.env.TRELLIS_WIREGUARD_GO;
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    if (saved.env === undefined) delete process.env.TRELLIS_WIREGUARD_GO;
    else process.env.TRELLIS_WIREGUARD_GO = saved.env;
    process.env.PATH = saved.path;
  });
  const executable = (path: string) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, '#!/bin/sh\n', { mode: 0o755 });
  };

  it('says where the binary came from; only an explicit path or the environment beat the bundled build', () => {
    const bundled = join(dir, 'lib', 'wireguard-go');
    executable(bundled);
    expect(chooseWireguardGo(undefined, bundled)).toEqual({ path: bundled, source: 'bundled', fallback: null });
    expect(chooseWireguardGo('/x/wireguard-go', bundled)).toEqual({ path: '/x/wireguard-go', source: 'explicit', fallback: null });
    process.env.TRELLIS_WIREGUARD_GO = '/opt/wg/wireguard-go';
    expect(chooseWireguardGo(undefined, bundled)).toEqual({ path: '/opt/wg/wireguard-go', source: 'env', fallback: null });
  });

  it("falls back to PATH's wireguard-go and names why, from what setup recorded", () => {
    const bundled = join(dir, 'lib', 'wireguard-go');
    const onPath = join(dir, 'bin', 'wireguard-go');
    executable(onPath);
    process.env.PATH = `${join(dir, 'empty')}:${join(dir, 'bin')}`;
    expect(chooseWireguardGo(undefined, bundled)).toEqual({
      path: onPath,
      source: 'path',
      fallback: `the current build is not installed at ${bundled} (run scripts/setup.sh to build it)`,
    });
    mkdirSync(dirname(bundled), { recursive: true });
    writeFileSync(`${bundled}.unavailable`, 'the Go toolchain is not installed, so wireguard-go v0.0.0-x cannot be built\n');
    expect(chooseWireguardGo(undefined, bundled).fallback).toBe(
      `the current build is not installed at ${bundled} (the Go toolchain is not installed, so wireguard-go v0.0.0-x cannot be built)`,
    );
    // A bundled path that is not executable does not count as installed.
    writeFileSync(bundled, 'not a program', { mode: 0o644 });
    expect(chooseWireguardGo(undefined, bundled).source).toBe('path');
  });
});

describe('findWireguardGoPid', () => {
  it('finds the process serving an interface by its command line, and nothing for another name', async () => {
    // A stand-in with wireguard-go's command-line shape: `<dir>/wireguard-go -f <iface>` (tail -f on a file of that name).
    const dir = mkdtempSync(join(tmpdir(), 'trellis-wgpid-'));
    const iface = `trltpid${process.pid % 10000}`;
    writeFileSync(join(dir, iface), '');
    symlinkSync('/usr/bin/tail', join(dir, 'wireguard-go'));
    const child = spawn(join(dir, 'wireguard-go'), ['-f', iface], { cwd: dir, stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      await new Promise((r) => setTimeout(r, 50));
      expect(findWireguardGoPid(iface)).toBe(child.pid);
      expect(executableOf(child.pid!)).toBe(realpathSync('/usr/bin/tail'));
      expect(findWireguardGoPid(`${iface}x`)).toBeNull();
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

(existsSync(BUNDLED_WIREGUARD_GO) ? it : it.skip)('describeWireguardGo names the bundled build and its commit', async () => {
  const build = await describeWireguardGo(BUNDLED_WIREGUARD_GO);
  expect(build.version).toMatch(/^v0\.0\.\d{8}$/);
  expect(build.moduleVersion).toMatch(/^v0\.0\.0-\d{14}-[0-9a-f]{12}$/);
  expect(build.commit).toBe(build.moduleVersion!.slice(-12));
  expect(build.goVersion).toMatch(/^go1\./);
});

(existsSync('/usr/bin/wireguard-go') ? it : it.skip)("describeWireguardGo reports Debian's build without a commit", async () => {
  expect(await describeWireguardGo('/usr/bin/wireguard-go')).toMatchObject({ version: 'v0.0.20220316', moduleVersion: null, commit: null });
});
