import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base64ToHex, generateWgKeyPair } from '../auth/keys';
import { TrellisError } from '../errors';
import type { WgConfig } from './types';
import { serializeGetResponse, type UapiDeviceState } from './uapi';
import { UapiDevice, deviceEnv } from './uapi-device';

/** A fake wireguard-go UAPI endpoint: answers get=1 from `state`, records every request. */
class FakeUapi {
  readonly requests: string[] = [];
  setErrno = 0;
  private server: Server | null = null;
  constructor(
    readonly path: string,
    public state: UapiDeviceState,
  ) {}

  listen(): Promise<void> {
    this.server = createServer((sock) => {
      let buf = '';
      sock.setEncoding('utf8');
      sock.on('data', (chunk: string) => {
        buf += chunk;
        if (!buf.endsWith('\n\n')) return;
        this.requests.push(buf);
        if (buf.startsWith('get=1\n')) sock.write(serializeGetResponse(this.state));
        else sock.write(`errno=${this.setErrno}\n\n`);
        buf = '';
      });
    });
    return new Promise((resolve) => this.server!.listen(this.path, resolve));
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  get sets(): string[] {
    return this.requests.filter((r) => r.startsWith('set=1\n'));
  }
}

const priv = generateWgKeyPair().privateKey;
const pa = generateWgKeyPair().publicKey;
const pb = generateWgKeyPair().publicKey;
const hex = base64ToHex;

const deviceState = (): UapiDeviceState => ({
  privateKey: priv,
  listenPort: 51820,
  fwmark: 0,
  peers: [
    {
      publicKey: pa,
      endpoint: '198.18.200.2:51820',
      lastHandshakeTimeSec: 1700000000,
      lastHandshakeTimeNsec: 500_000_000,
      rxBytes: 10,
      txBytes: 20,
      persistentKeepaliveInterval: 0,
      allowedIps: ['100.100.0.2/32'],
      protocolVersion: 1,
      hasPresharedKey: false,
    },
    {
      publicKey: pb,
      endpoint: null,
      lastHandshakeTimeSec: 0,
      lastHandshakeTimeNsec: 0,
      rxBytes: 0,
      txBytes: 0,
      persistentKeepaliveInterval: 25,
      allowedIps: ['100.100.0.3/32', 'fd7a::3/128'],
      protocolVersion: 1,
      hasPresharedKey: false,
    },
  ],
});

const sameConfig = (): WgConfig => ({
  privateKey: priv,
  listenPort: 51820,
  peers: [
    { publicKey: pa, endpoint: '198.18.200.2:51820', allowedIps: ['100.100.0.2/32'] },
    { publicKey: pb, endpoint: null, allowedIps: ['fd7a::3/128', '100.100.0.3/32'], persistentKeepalive: 25 },
  ].sort((x, y) => (x.publicKey < y.publicKey ? -1 : 1)),
});

describe('UapiDevice against a fake UAPI socket', () => {
  let dir: string;
  let fake: FakeUapi;
  let dev: UapiDevice;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'trlt-uapi-'));
    fake = new FakeUapi(join(dir, 'trltfake0.sock'), deviceState());
    await fake.listen();
    dev = new UapiDevice({ name: 'trltfake0', socketDir: dir, wireguardGo: '/nonexistent/wireguard-go' });
  });

  afterEach(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adopts a device that answers, without starting wireguard-go', async () => {
    await dev.up();
    expect(dev.pid).toBeNull();
    expect(fake.requests).toEqual(['get=1\n\n']);
  });

  it('writes nothing when the config read from the device already matches', async () => {
    await dev.up();
    fake.requests.length = 0;
    const r = await dev.reconfigure(sameConfig(), null);
    expect(r).toEqual({ summary: 'no changes', added: 0, updated: 0, removed: 0, changed: false });
    expect(fake.requests).toEqual(['get=1\n\n']);
  });

  it('writes nothing and reads nothing when prev equals next', async () => {
    const r = await dev.reconfigure(sameConfig(), sameConfig());
    expect(r.summary).toBe('no changes');
    expect(fake.requests).toEqual([]);
  });

  it('writes exactly the changed peer in one transaction', async () => {
    const next = sameConfig();
    const b = next.peers.find((p) => p.publicKey === pb)!;
    b.allowedIps = [...b.allowedIps, '10.30.0.0/16'];
    const r = await dev.reconfigure(next, null);
    expect(r).toEqual({ summary: 'added 0, updated 1, removed 0 peers', added: 0, updated: 1, removed: 0, changed: true });
    expect(fake.sets).toEqual([
      `set=1\npublic_key=${hex(pb)}\nupdate_only=true\nreplace_allowed_ips=true\n` +
        'allowed_ip=10.30.0.0/16\nallowed_ip=100.100.0.3/32\nallowed_ip=fd7a::3/128\n\n',
    ]);
  });

  it('adds and removes peers against a given prev without reading the device', async () => {
    const pc = generateWgKeyPair().publicKey;
    const next: WgConfig = {
      ...sameConfig(),
      peers: [
        { publicKey: pa, endpoint: '198.18.200.2:51820', allowedIps: ['100.100.0.2/32'] },
        { publicKey: pc, endpoint: '198.18.200.4:51820', allowedIps: ['100.100.0.4/32'], persistentKeepalive: 10 },
      ],
    };
    const r = await dev.reconfigure(next, sameConfig());
    expect(r.summary).toBe('added 1, updated 0, removed 1 peers');
    expect(fake.requests).toEqual([
      `set=1\npublic_key=${hex(pb)}\nremove=true\n` +
        `public_key=${hex(pc)}\nendpoint=198.18.200.4:51820\npersistent_keepalive_interval=10\n` +
        'replace_allowed_ips=true\nallowed_ip=100.100.0.4/32\n\n',
    ]);
  });

  it('turns a non-zero errno into a device error', async () => {
    fake.setErrno = -98;
    const next = { ...sameConfig(), listenPort: 51821 };
    const err = await dev.reconfigure(next, sameConfig()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrellisError);
    expect((err as TrellisError).code).toBe('TRELLIS_ERR_DEVICE');
    expect((err as Error).message).toMatch(/trltfake0.*errno=-98/);
    expect(fake.sets).toEqual(['set=1\nlisten_port=51821\n\n']);
  });

  it('refuses a bad config before writing anything', async () => {
    const next = sameConfig();
    next.peers[0].allowedIps = ['100.100.0.2/99'];
    await expect(dev.reconfigure(next, null)).rejects.toMatchObject({ code: 'TRELLIS_ERR_CONFIG_INVALID' });
    expect(fake.sets).toEqual([]);
  });

  it('reports stats with handshake times in unix ms', async () => {
    const stats = await dev.stats();
    expect(stats.find((s) => s.publicKey === pa)).toEqual({
      publicKey: pa,
      endpoint: '198.18.200.2:51820',
      lastHandshake: 1700000000500,
      rxBytes: 10,
      txBytes: 20,
      allowedIps: ['100.100.0.2/32'],
    });
    expect(stats.find((s) => s.publicKey === pb)?.lastHandshake).toBeNull();
  });

  it('serializes concurrent operations, one connection each', async () => {
    await Promise.all([dev.stats(), dev.reconfigure(sameConfig(), null), dev.stats()]);
    expect(fake.requests).toEqual(['get=1\n\n', 'get=1\n\n', 'get=1\n\n']);
  });
});

describe('UapiDevice start failures', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'trlt-uapi-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('removes a stale socket and fails clearly when wireguard-go is missing', async () => {
    const stale = join(dir, 'trltfake1.sock');
    writeFileSync(stale, '');
    const dev = new UapiDevice({ name: 'trltfake1', socketDir: dir, wireguardGo: '/nonexistent/wireguard-go' });
    const err = await dev.up().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrellisError);
    expect((err as TrellisError).code).toBe('TRELLIS_ERR_DEVICE');
    expect((err as Error).message).toMatch(/wireguard-go did not start.*ENOENT.*TRELLIS_WIREGUARD_GO/);
    expect(existsSync(stale)).toBe(false);
    expect(dev.pid).toBeNull();
  });

  it("removes a killed trellis-wg's stale control socket of the same interface before starting", async () => {
    const staleCtl = join(dir, 'trltfake2.ctl');
    const other = join(dir, 'trltfake3.ctl');
    writeFileSync(staleCtl, '');
    writeFileSync(other, '');
    const dev = new UapiDevice({ name: 'trltfake2', socketDir: dir, wireguardGo: '/nonexistent/trellis-wg' });
    await expect(dev.up()).rejects.toThrow(/did not start/);
    expect(existsSync(staleCtl)).toBe(false);
    expect(existsSync(other)).toBe(true); // another interface's socket is not this device's to remove
  });

  it('refuses an interface name the kernel would refuse', () => {
    expect(() => new UapiDevice({ name: 'a-name-longer-than-15' })).toThrow(/1-15 characters/);
  });
});

describe('deviceEnv', () => {
  it('keeps the environment but drops TRELLIS_* (the auth key) and logs errors only', () => {
    const env = deviceEnv({ PATH: '/usr/bin', TRELLIS_AUTH_KEY: 'trellis-auth-x-y', TRELLIS_WIREGUARD_GO: '/bin/wg-go', LOG_LEVEL: 'debug' });
    expect(env).toEqual({ PATH: '/usr/bin', LOG_LEVEL: 'error' });
  });
});
