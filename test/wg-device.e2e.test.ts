/**
 * UapiDevice and link setup on real wireguard-go: two network namespaces joined by a veth pair,
 * one WireGuard interface in each, traffic over the overlay, and a reconfigure that leaves the
 * existing session alone.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { generateWgKeyPair } from '../core/src/auth/keys';
import { run, tryRun } from '../core/src/sys/run';
import { listUnderlayAddresses, setLinkUp, syncAddresses, syncRoutes } from '../core/src/wg/link';
import type { WgConfig } from '../core/src/wg/types';
import { DEFAULT_UAPI_SOCKET_DIR, UapiDevice } from '../core/src/wg/uapi-device';

jest.setTimeout(60000);

const NS_A = 'trlt-wga';
const NS_B = 'trlt-wgb';
const VETH_A = 'trlt-vwa';
const VETH_B = 'trlt-vwb';
const IF_A = 'trltwga';
const IF_B = 'trltwgb';

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

const devA = new UapiDevice({ name: IF_A, netns: NS_A });
const devB = new UapiDevice({ name: IF_B, netns: NS_B });

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

async function cleanup(): Promise<void> {
  await Promise.all([devA.down().catch(() => undefined), devB.down().catch(() => undefined)]);
  await killNamespace(NS_A);
  await killNamespace(NS_B);
  await tryRun('ip', ['link', 'del', VETH_A]);
  for (const name of [IF_A, IF_B]) {
    const sock = `${DEFAULT_UAPI_SOCKET_DIR}/${name}.sock`;
    if (existsSync(sock)) unlinkSync(sock);
  }
}

async function ping(ns: string, addr: string, tries = 5): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if ((await tryRun('ip', ['netns', 'exec', ns, 'ping', '-c1', '-W1', addr])) !== null) return true;
    await sleep(200);
  }
  return false;
}

async function overlay(dev: UapiDevice, ns: string, self: number, peer: number): Promise<void> {
  await setLinkUp(dev.name, 1420, { netns: ns });
  await syncAddresses(dev.name, [`100.100.0.${self}/32`, `fd7a:100::${self}/128`], { netns: ns });
  await syncRoutes(dev.name, [`100.100.0.${peer}/32`, `fd7a:100::${peer}/128`], { netns: ns });
}

beforeAll(async () => {
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

describe('UapiDevice on wireguard-go', () => {
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
  });

  it('down() removes the interface and socket, and is idempotent', async () => {
    await devA.down();
    await devB.down();
    expect(await tryRun('ip', ['-n', NS_A, 'link', 'show', IF_A])).toBeNull();
    expect(await tryRun('ip', ['-n', NS_B, 'link', 'show', IF_B])).toBeNull();
    expect(existsSync(devA.socketPath)).toBe(false);
    expect(existsSync(devB.socketPath)).toBe(false);
    expect(devA.pid).toBeNull();
    await devA.down();
  });
});
