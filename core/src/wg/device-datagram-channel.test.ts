import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrellisError } from '../errors';
import { DatagramKindCode, FrameType, ResultStatus, encodeFrame } from './control-frame';
import { answerBindingRequest, stunBinding } from '../stun';
import { DeviceDatagramChannel, type DeviceChannelInfo, type DeviceDatagram } from './device-datagram-channel';
import { FAKE_DEVICE_INFO as INFO, FakeControlDevice as FakeDevice, type SendSeen } from './testing/fake-control-device';
import { deviceStunTransport } from './device-stun-transport';

const next = <T>(emitter: DeviceDatagramChannel, event: 'datagram' | 'info' | 'close') =>
  new Promise<T>((resolve) => emitter.once(event, (x: unknown) => resolve(x as T)));

describe('DeviceDatagramChannel', () => {
  let dir: string;
  let dev: FakeDevice;
  let ch: DeviceDatagramChannel | null = null;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'trellis-devch-'));
    dev = new FakeDevice(join(dir, 'trltch0.ctl'));
    await dev.listen();
  });
  afterEach(async () => {
    ch?.close();
    ch = null;
    await dev.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('connects after the hello and knows the device', async () => {
    ch = await DeviceDatagramChannel.connect(dev.path);
    expect(ch.info).toEqual(INFO);
    expect(ch.closed).toBe(false);
  });

  it('sends to an endpoint from a chosen source, and from none', async () => {
    ch = await DeviceDatagramChannel.connect(dev.path);
    const payload = Buffer.from('TRLD\x01ping');
    await ch.send('198.18.0.2:51820', payload, '198.18.0.1');
    await ch.send('[2001:db8::2]:3478', payload);
    expect(dev.sends).toEqual([
      { id: 1, to: '198.18.0.2:51820', from: '198.18.0.1', payload },
      { id: 2, to: '2001:db8::2:3478', from: null, payload },
    ]);
  });

  it("rejects with the device's reason when a send fails", async () => {
    ch = await DeviceDatagramChannel.connect(dev.path);
    dev.answer = { status: ResultStatus.SEND_FAILED, message: 'send to 198.18.0.2:51820: network is unreachable' };
    const err = await ch.send('198.18.0.2:51820', Buffer.from('TRLD\x01')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrellisError);
    expect(err).toMatchObject({ code: 'TRELLIS_ERR_CONTROL_SOCKET', message: expect.stringContaining('network is unreachable') });
  });

  it('refuses a destination or source that is not an address, before sending anything', async () => {
    ch = await DeviceDatagramChannel.connect(dev.path);
    await expect(ch.send('198.18.0.2', Buffer.from('x'))).rejects.toThrow(/not an "ip:port" destination/);
    await expect(ch.send('198.18.0.2:0', Buffer.from('x'))).rejects.toThrow(/not an "ip:port" destination/);
    await expect(ch.send('198.18.0.2:1', Buffer.from('x'), 'eth0')).rejects.toThrow(/source "eth0" is not an IP address/);
    expect(dev.sends).toEqual([]);
  });

  it('times out a send the device never answers', async () => {
    ch = await DeviceDatagramChannel.connect(dev.path, { timeoutMs: 200 });
    dev.answer = null;
    await expect(ch.send('198.18.0.2:51820', Buffer.from('TRLD\x01'))).rejects.toThrow(/no answer within 200 ms/);
  });

  it('emits each datagram the device pushes, and info changes', async () => {
    ch = await DeviceDatagramChannel.connect(dev.path);
    const got: DeviceDatagram[] = [];
    ch.on('datagram', (d) => got.push(d));
    const stun = Buffer.alloc(20, 1);
    dev.push(
      Buffer.concat([
        dev.datagram(DatagramKindCode.stun, { ip: '203.0.113.9', port: 3478 }, '198.18.0.1', stun),
        dev.datagram(DatagramKindCode.disco, { ip: '2001:db8::9', port: 41641 }, null, Buffer.from('TRLD\x01pong')),
      ]),
    );
    const port = next<DeviceChannelInfo>(ch, 'info');
    dev.push(dev.info(0, { ...INFO, listenPort: 0 }));
    expect((await port).listenPort).toBe(0);
    expect(ch.info.listenPort).toBe(0);
    expect(got).toEqual([
      { kind: 'stun', from: '203.0.113.9:3478', local: '198.18.0.1', payload: stun },
      { kind: 'disco', from: '[2001:db8::9]:41641', local: null, payload: Buffer.from('TRLD\x01pong') },
    ]);
  });

  it('sets the watched addresses, rejects with the reason of a refused set, and emits demands', async () => {
    ch = await DeviceDatagramChannel.connect(dev.path);
    await ch.watch(['100.64.0.3', 'fd7a:7e11:5000::3'], 500);
    await ch.watch([]);
    expect(dev.watches).toEqual([{ addresses: ['100.64.0.3', 'fd7a:7e11:5000::3'], intervalMs: 500 }, { addresses: [] }]);
    dev.watchAnswer = { status: ResultStatus.INVALID_INPUT, message: 'watch: addresses[0] "x" is not an IP address' };
    await expect(ch.watch(['x'])).rejects.toThrow(/addresses\[0\] "x" is not an IP address/);
    const got: unknown[] = [];
    ch.on('demand', (d) => got.push(d));
    const info = next<DeviceChannelInfo>(ch, 'info');
    dev.push(Buffer.concat([dev.demand('outbound', '100.64.0.3'), dev.demand('inbound', 'fd7a:7e11:5000::3'), dev.info(0)]));
    await info;
    expect(got).toEqual([
      { direction: 'outbound', address: '100.64.0.3' },
      { direction: 'inbound', address: 'fd7a:7e11:5000::3' },
    ]);
  });

  it('reads the counters on request', async () => {
    ch = await DeviceDatagramChannel.connect(dev.path);
    await ch.send('198.18.0.2:51820', Buffer.from('TRLD\x01'));
    expect((await ch.requestInfo()).counters.sent).toBe(1);
  });

  it('closes and fails pending sends when the device goes away', async () => {
    ch = await DeviceDatagramChannel.connect(dev.path);
    dev.answer = null;
    const pending = ch.send('198.18.0.2:51820', Buffer.from('TRLD\x01'));
    const closed = next<Error | null>(ch, 'close');
    await new Promise((r) => setTimeout(r, 20));
    await dev.close();
    await expect(pending).rejects.toThrow(/connection closed/);
    expect(await closed).toBeNull();
    expect(ch.closed).toBe(true);
    await expect(ch.send('198.18.0.2:51820', Buffer.from('TRLD\x01'))).rejects.toThrow(/closed/);
  });

  it('closes on a malformed frame and says why', async () => {
    ch = await DeviceDatagramChannel.connect(dev.path);
    const closed = next<Error | null>(ch, 'close');
    dev.push(encodeFrame(Buffer.from([FrameType.DATAGRAM, 9, 0])));
    expect(String(await closed)).toMatch(/malformed frame.*datagram kind 9/);
  });

  it('refuses a socket nobody listens on, a silent one, and another protocol version', async () => {
    await expect(DeviceDatagramChannel.connect(join(dir, 'none.ctl'))).rejects.toMatchObject({ code: 'TRELLIS_ERR_CONTROL_SOCKET' });
    const silent = createServer(() => undefined);
    const silentPath = join(dir, 'silent.ctl');
    await new Promise<void>((r) => silent.listen(silentPath, r));
    try {
      await expect(DeviceDatagramChannel.connect(silentPath, { timeoutMs: 150 })).rejects.toThrow(/no hello within 150 ms/);
    } finally {
      silent.close();
    }
    dev.hello = dev.info(0, { ...INFO, protocol: 2 });
    await expect(DeviceDatagramChannel.connect(dev.path)).rejects.toThrow(/control protocol 2, this client 1/);
  });
});

describe('deviceStunTransport', () => {
  let dir: string;
  let dev: FakeDevice;
  let ch: DeviceDatagramChannel | null = null;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'trellis-devstun-'));
    dev = new FakeDevice(join(dir, 'trltch1.ctl'));
    await dev.listen();
  });
  afterEach(async () => {
    ch?.close();
    ch = null;
    await dev.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs a STUN binding through the device's socket, from the chosen uplink, and ignores disco and other servers", async () => {
    ch = await DeviceDatagramChannel.connect(dev.path);
    const server = { family: 'IPv4' as const, address: '203.0.113.1', port: 3478 };
    // The "server" answers each request the device sent as the real one would, seeing the WireGuard socket's mapping.
    const requests: SendSeen[] = [];
    const answering = setInterval(() => {
      for (const s of dev.sends.splice(0)) {
        requests.push(s);
        const a = answerBindingRequest(s.payload, { family: 'IPv4', address: '198.51.100.7', port: 51820 }, 'fake server');
        dev.push(
          Buffer.concat([
            dev.datagram(DatagramKindCode.disco, { ip: '203.0.113.1', port: 3478 }, null, Buffer.from('TRLD\x01noise')),
            dev.datagram(DatagramKindCode.stun, { ip: '203.0.113.2', port: 3478 }, null, a.reply!),
            dev.datagram(DatagramKindCode.stun, { ip: '203.0.113.1', port: 3478 }, null, a.reply!),
          ]),
        );
      }
    }, 5);
    try {
      const r = await stunBinding(deviceStunTransport(ch, { from: '192.0.2.10' }), server, { timeoutMs: 2000 });
      expect(r.mapped).toEqual({ family: 'IPv4', address: '198.51.100.7', port: 51820 });
      expect(r.software).toBe('fake server');
      expect(r.attempts).toBe(1);
      expect(requests).toEqual([expect.objectContaining({ to: '203.0.113.1:3478', from: '192.0.2.10' })]);
    } finally {
      clearInterval(answering);
    }
    expect(ch.listenerCount('datagram')).toBe(0);
  });

  it("fails the binding with the device's reason when the send fails", async () => {
    ch = await DeviceDatagramChannel.connect(dev.path);
    dev.answer = { status: ResultStatus.SEND_FAILED, message: 'send to 203.0.113.1:3478: network is unreachable' };
    await expect(stunBinding(deviceStunTransport(ch), { family: 'IPv4', address: '203.0.113.1', port: 3478 }, { timeoutMs: 1000 })).rejects.toThrow(
      /network is unreachable/,
    );
  });
});
