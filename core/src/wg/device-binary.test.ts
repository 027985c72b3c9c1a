import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chooseDeviceBinary } from './device-binary';

describe('chooseDeviceBinary', () => {
  const saved = { env: process.env.TRELLIS_WIREGUARD_GO, path: process.env.PATH };
  let dir: string;
  let paths: { trellisWg: string; wireguardGo: string };
  const executable = (path: string) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, '#!/bin/sh\n', { mode: 0o755 });
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'trellis-devbin-'));
    paths = { trellisWg: join(dir, 'lib', 'trellis-wg'), wireguardGo: join(dir, 'lib', 'wireguard-go') };
    delete process.env.TRELLIS_WIREGUARD_GO;
    process.env.PATH = join(dir, 'bin');
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    if (saved.env === undefined) delete process.env.TRELLIS_WIREGUARD_GO;
    else process.env.TRELLIS_WIREGUARD_GO = saved.env;
    process.env.PATH = saved.path;
  });

  it('prefers trellis-wg when installed; an explicit path or the environment still win', () => {
    executable(paths.trellisWg);
    executable(paths.wireguardGo);
    expect(chooseDeviceBinary(undefined, paths)).toEqual({ path: paths.trellisWg, source: 'trellis-wg', fallback: null });
    expect(chooseDeviceBinary('/x/wireguard-go', paths)).toEqual({ path: '/x/wireguard-go', source: 'explicit', fallback: null });
    process.env.TRELLIS_WIREGUARD_GO = '/opt/wireguard-go';
    expect(chooseDeviceBinary(undefined, paths)).toEqual({ path: '/opt/wireguard-go', source: 'env', fallback: null });
  });

  it('falls back to the bundled wireguard-go, naming why and what is lost', () => {
    executable(paths.wireguardGo);
    mkdirSync(dirname(paths.trellisWg), { recursive: true });
    writeFileSync(`${paths.trellisWg}.unavailable`, 'go build failed: no network\n');
    expect(chooseDeviceBinary(undefined, paths)).toEqual({
      path: paths.wireguardGo,
      source: 'bundled',
      fallback: `trellis-wg is not installed at ${paths.trellisWg} (go build failed: no network); NAT traversal, candidate probes and relays are unavailable`,
    });
  });

  it("falls back to PATH's wireguard-go when neither bundled build is there, naming both", () => {
    const onPath = join(dir, 'bin', 'wireguard-go');
    executable(onPath);
    const c = chooseDeviceBinary(undefined, paths);
    expect(c).toMatchObject({ path: onPath, source: 'path' });
    expect(c.fallback).toBe(
      `trellis-wg is not installed at ${paths.trellisWg} (run scripts/setup.sh to build it); and the current build is not installed at ${paths.wireguardGo} (run scripts/setup.sh to build it); NAT traversal, candidate probes and relays are unavailable`,
    );
  });
});
