/**
 * UapiDevice and link setup on real wireguard-go: two network namespaces joined by a veth pair,
 * one WireGuard interface in each, traffic over the overlay, and a reconfigure that leaves the
 * existing session alone. The whole suite runs once per wireguard-go build Trellis may run:
 * trellis-wg (the agents' default: the pinned upstream device with Trellis's control socket,
 * scripts/install-trellis-wg.sh), the current upstream build setup installs
 * (scripts/install-wireguard-go.sh), which moves TCP super-packets through its TUN, and Debian's
 * 2022 package, which agents fall back to last.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateWgKeyPair } from '../core/src/auth/keys';
import { run, tryRun } from '../core/src/sys/run';
import { listUnderlayAddresses, setLinkUp, syncAddresses, syncRoutes } from '../core/src/wg/link';
import { segmentationOffloadOn } from '../core/src/wg/tun-offloads';
import type { WgConfig } from '../core/src/wg/types';
import { DEFAULT_UAPI_SOCKET_DIR, UapiDevice } from '../core/src/wg/uapi-device';
import { BUNDLED_TRELLIS_WG } from '../core/src/wg/trellis-wg';
import { BUNDLED_WIREGUARD_GO } from '../core/src/wg/wireguard-go';

jest.setTimeout(60000);

/** The module version setup pins, read from the install script so the test follows the pin. */
function pinnedModuleVersion(): string {
  const script = readFileSync(join(__dirname, '..', 'scripts', 'install-wireguard-go.sh'), 'utf8');
  const m = /WIREGUARD_GO_VERSION="\$\{WIREGUARD_GO_VERSION:-(v[^}]+)\}"/.exec(script);
  if (!m) throw new Error('scripts/install-wireguard-go.sh no longer pins WIREGUARD_GO_VERSION the way this test reads it');
  return m[1];
}

/** USO on a TUN needs Linux 6.2; older kernels keep TSO only. */
const kernelHasTunUso = (() => {
  const [major, minor] = release().split('.').map(Number);
  return major > 6 || (major === 6 && minor >= 2);
})();

interface Build {
  name: string;
  bin: string;
  /** What the running device reports about itself. */
  expect: { driver: string; version: RegExp; moduleVersion: string | null; offloads: boolean };
}

const BUILDS: Build[] = [
  {
    name: 'trellis-wg',
    bin: BUNDLED_TRELLIS_WG,
    expect: { driver: 'trellis-wg', version: /^v\d+\.\d+\.\d+$/, moduleVersion: pinnedModuleVersion(), offloads: true },
  },
  {
    name: 'current upstream build',
    bin: BUNDLED_WIREGUARD_GO,
    expect: { driver: 'wireguard-go', version: /^v0\.0\.\d{8}$/, moduleVersion: pinnedModuleVersion(), offloads: true },
  },
  {
    name: "Debian's package",
    bin: '/usr/bin/wireguard-go',
    expect: { driver: 'wireguard-go', version: /^v0\.0\.20220316$/, moduleVersion: null, offloads: false },
  },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** killNamespace stops every process still inside a namespace this test made, then deletes it. */
async function killNamespace(ns: string): Promise<void> {
  const pids = (await tryRun('ip', ['netns', 'pids', ns])) ?? '';
  for (const pid of pids.split('\n').map((s) => Number(s.trim())).filter((n) => n > 0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await tryRun('ip', ['netns', 'del', ns]);
}

async function ping(ns: string, addr: string, tries = 5): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if ((await tryRun('ip', ['netns', 'exec', ns, 'ping', '-c1', '-W1', addr])) !== null) return true;
    await sleep(200);
  }
  return false;
}

const TRANSFER_BYTES = 24 * 1024 * 1024;
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/**
 * transfer sends TRANSFER_BYTES of random data over one TCP connection with socat, from a file in
 * one namespace to a file in the other, and reports what arrived.
 */
async function transfer(t: { dir: string; name: string; from: string; to: string; listen: string; port: number }) {
  const src = join(t.dir, `${t.name}.sent`);
  const dst = join(t.dir, `${t.name}.received`);
  writeFileSync(src, randomBytes(TRANSFER_BYTES));
  const family = t.listen.startsWith('[') ? 'TCP6' : 'TCP4';
  const server = spawn('ip', ['netns', 'exec', t.to, 'socat', '-u', `${family}-LISTEN:${t.port},bind=${t.listen},reuseaddr`, `CREATE:${dst}`], {
    stdio: 'ignore',
  });
  const serverDone = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
  try {
    for (let i = 0; !(await run('ip', ['netns', 'exec', t.to, 'ss', '-Htln', `sport = :${t.port}`])).trim(); i++) {
      if (i > 50) throw new Error(`socat did not listen on ${t.listen}:${t.port} in ${t.to}`);
      await sleep(50);
    }
    await run('ip', ['netns', 'exec', t.from, 'socat', '-u', `OPEN:${src}`, `${family}:${t.listen}:${t.port}`], { timeoutMs: 45_000 });
    expect(await serverDone).toBe(0);
  } finally {
    server.kill('SIGKILL');
  }
  return { received: statSync(dst).size, sentSha256: sha256(src), receivedSha256: sha256(dst) };
}

async function overlay(dev: UapiDevice, ns: string, self: number, peer: number): Promise<void> {
  await setLinkUp(dev.name, 1420, { netns: ns });
  await syncAddresses(dev.name, [`100.100.0.${self}/32`, `fd7a:100::${self}/128`], { netns: ns });
  await syncRoutes(dev.name, [`100.100.0.${peer}/32`, `fd7a:100::${peer}/128`], { netns: ns });
}

describe.each(BUILDS.map((b, i) => [b.name, b, i] as const))('UapiDevice on wireguard-go: %s', (_name, build, i) => {
  const NS_A = `trlt-wga${i}`;
  const NS_B = `trlt-wgb${i}`;
  const VETH_A = `trlt-vwa${i}`;
  const VETH_B = `trlt-vwb${i}`;
  const IF_A = `trltwga${i}`;
  const IF_B = `trltwgb${i}`;

  const keyA = generateWgKeyPair();
  const keyB = generateWgKeyPair();
  const keyC = generateWgKeyPair();

  const configA: WgConfig = {
    privateKey: keyA.privateKey,
    listenPort: 51820,
    peers: [{ publicKey: keyB.publicKey, endpoint: '198.18.200.2:51820', allowedIps: ['100.100.0.2/32', 'fd7a:100::2/128'] }],
  };
  const configB: WgConfig = {
    privateKey: keyB.privateKey,
    listenPort: 51820,
    peers: [{ publicKey: keyA.publicKey, endpoint: '198.18.200.1:51820', allowedIps: ['100.100.0.1/32', 'fd7a:100::1/128'] }],
  };

  const devA = new UapiDevice({ name: IF_A, netns: NS_A, wireguardGo: build.bin });
  const devB = new UapiDevice({ name: IF_B, netns: NS_B, wireguardGo: build.bin });

  async function cleanup(): Promise<void> {
    await Promise.all([devA.down().catch(() => undefined), devB.down().catch(() => undefined)]);
    await killNamespace(NS_A);
    await killNamespace(NS_B);
    await tryRun('ip', ['link', 'del', VETH_A]);
    for (const name of [IF_A, IF_B]) {
      for (const sock of [`${DEFAULT_UAPI_SOCKET_DIR}/${name}.sock`, `${DEFAULT_UAPI_SOCKET_DIR}/${name}.ctl`]) {
        if (existsSync(sock)) unlinkSync(sock);
      }
    }
  }

  beforeAll(async () => {
    if (!existsSync(build.bin)) {
      throw new Error(`${build.bin} is not installed; scripts/setup.sh installs trellis-wg and the current wireguard-go (see its warnings)`);
    }
    await cleanup();
    await run('ip', ['netns', 'add', NS_A]);
    await run('ip', ['netns', 'add', NS_B]);
    await run('ip', ['link', 'add', VETH_A, 'netns', NS_A, 'type', 'veth', 'peer', 'name', VETH_B, 'netns', NS_B]);
    for (const [ns, veth, addr] of [
      [NS_A, VETH_A, '198.18.200.1/24'],
      [NS_B, VETH_B, '198.18.200.2/24'],
    ]) {
      await run('ip', ['-n', ns, 'addr', 'add', addr, 'dev', veth]);
      await run('ip', ['-n', ns, 'link', 'set', veth, 'up']);
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
  });

  afterAll(async () => {
    await cleanup();
  });

  let handshakeBefore: number | null = null;

  it('brings up two devices and carries a ping over the overlay', async () => {
    await devA.up();
    await devB.up();
    expect(devA.pid).not.toBeNull();
    expect(existsSync(devA.socketPath)).toBe(true);
    expect(await devA.reconfigure(configA, null)).toMatchObject({ added: 1, changed: true });
    expect(await devB.reconfigure(configB, null)).toMatchObject({ added: 1, changed: true });
    await overlay(devA, NS_A, 1, 2);
    await overlay(devB, NS_B, 2, 1);

    expect(await ping(NS_A, '100.100.0.2')).toBe(true);
    expect(await ping(NS_A, 'fd7a:100::2')).toBe(true);
    const stats = await devA.stats();
    expect(stats).toHaveLength(1);
    expect(stats[0].publicKey).toBe(keyB.publicKey);
    expect(stats[0].endpoint).toBe('198.18.200.2:51820');
    expect(stats[0].lastHandshake).not.toBeNull();
    expect(stats[0].rxBytes).toBeGreaterThan(0);
    handshakeBefore = stats[0].lastHandshake;
  });

  it('reports the build it runs: binary, version, and the commit when the build recorded one', async () => {
    const info = await devA.describe();
    expect(info).toMatchObject({ driver: build.expect.driver, binary: build.bin, pid: devA.pid, moduleVersion: build.expect.moduleVersion, fallback: null });
    // Only trellis-wg carries STUN and disco for the agent (its control socket answers).
    expect(info.disco?.available).toBe(build.expect.driver === 'trellis-wg');
    expect(info.version).toMatch(build.expect.version);
    expect(info.commit).toBe(build.expect.moduleVersion ? build.expect.moduleVersion.slice(-12) : null);
  });

  it(build.expect.offloads ? 'runs with TSO (and USO) on its TUN' : 'runs without TUN offloads', async () => {
    const { offloads } = await devA.describe();
    // ethtool is installed by setup: every feature must be known, not null.
    expect(offloads).toEqual({
      vnetHdr: build.expect.offloads,
      txChecksum: build.expect.offloads,
      tso4: build.expect.offloads,
      tso6: build.expect.offloads,
      uso: build.expect.offloads && kernelHasTunUso,
    });
    expect(segmentationOffloadOn(offloads)).toBe(build.expect.offloads);
    // The kernel's own view, as an operator would check it.
    const ethtool = await run('ethtool', ['-k', IF_A], { netns: NS_A });
    expect(ethtool).toContain(`tcp-segmentation-offload: ${build.expect.offloads ? 'on' : 'off'}`);
  });

  it('carries bulk TCP intact both ways at once, over IPv4 and IPv6 (super-packets when offloaded)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trellis-wgdev-'));
    try {
      const [ab, ba] = await Promise.all([
        transfer({ dir, name: 'a-to-b', from: NS_A, to: NS_B, listen: '100.100.0.2', port: 5391 }),
        transfer({ dir, name: 'b-to-a', from: NS_B, to: NS_A, listen: '[fd7a:100::1]', port: 5392 }),
      ]);
      for (const t of [ab, ba]) {
        expect(t.received).toBe(TRANSFER_BYTES);
        expect(t.receivedSha256).toBe(t.sentSha256);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sets up the link exactly as asked, and a repeat keeps it so', async () => {
    await overlay(devA, NS_A, 1, 2);
    const [link] = await run('ip', ['-n', NS_A, '-j', 'addr', 'show', 'dev', IF_A]).then((s) => JSON.parse(s));
    expect(link.mtu).toBe(1420);
    expect(link.flags).toContain('UP');
    expect(link.addr_info.filter((a: { scope: string }) => a.scope === 'global').map((a: { local: string }) => a.local)).toEqual([
      '100.100.0.1',
      'fd7a:100::1',
    ]);
    const routes = JSON.parse(await run('ip', ['-n', NS_A, '-j', 'route', 'show', 'dev', IF_A])) as Array<{ dst: string }>;
    expect(routes.map((r) => r.dst)).toEqual(['100.100.0.2']);
    const routes6 = JSON.parse(await run('ip', ['-n', NS_A, '-j', '-6', 'route', 'show', 'dev', IF_A])) as Array<{ dst: string; protocol?: string }>;
    expect(routes6.filter((r) => r.protocol !== 'kernel').map((r) => r.dst)).toEqual(['fd7a:100::2']);
    expect(await listUnderlayAddresses([IF_A], { netns: NS_A })).toEqual(['198.18.200.1']);
  });

  it('reports no changes for the same config, read back or given', async () => {
    expect(await devA.reconfigure(configA, null)).toEqual({ summary: 'no changes', added: 0, updated: 0, removed: 0, changed: false });
    expect((await devA.reconfigure(configA, configA)).summary).toBe('no changes');
  });

  it('adds an unrelated peer without touching the live session', async () => {
    const next: WgConfig = {
      ...configA,
      peers: [...configA.peers, { publicKey: keyC.publicKey, endpoint: null, allowedIps: ['100.100.0.3/32'] }],
    };
    const r = await devA.reconfigure(next, configA);
    expect(r).toMatchObject({ summary: 'added 1, updated 0, removed 0 peers', added: 1, changed: true });
    expect(await ping(NS_A, '100.100.0.2')).toBe(true);
    expect(await ping(NS_A, 'fd7a:100::2')).toBe(true);
    const stats = await devA.stats();
    expect(stats).toHaveLength(2);
    expect(stats.find((s) => s.publicKey === keyB.publicKey)?.lastHandshake).toBe(handshakeBefore);
    expect(stats.find((s) => s.publicKey === keyC.publicKey)?.lastHandshake).toBeNull();
    expect((await devA.reconfigure(next, null)).summary).toBe('no changes');
  });

  it('adopts a running device instead of starting another', async () => {
    const again = new UapiDevice({ name: IF_A, netns: NS_A });
    await again.up();
    expect(again.pid).toBeNull();
    expect(await again.stats()).toHaveLength(2);
    // The adopted device is described from its process, whichever build it runs.
    expect(await again.describe()).toMatchObject({ binary: build.bin, pid: devA.pid, moduleVersion: build.expect.moduleVersion });
  });

  it('down() removes the interface and socket, and is idempotent', async () => {
    await devA.down();
    await devB.down();
    expect(await tryRun('ip', ['-n', NS_A, 'link', 'show', IF_A])).toBeNull();
    expect(await tryRun('ip', ['-n', NS_B, 'link', 'show', IF_B])).toBeNull();
    expect(existsSync(devA.socketPath)).toBe(false);
    expect(existsSync(devB.socketPath)).toBe(false);
    expect(existsSync(devA.controlSocketPath)).toBe(false);
    expect(devA.pid).toBeNull();
    await devA.down();
  });
});
