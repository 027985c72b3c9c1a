import { FrameReader, MAX_FRAME, decodeEndpoint, decodeIp, encodeEndpoint, encodeFrame, encodeIp, formatUdpEndpoint, parseUdpEndpoint } from './control-frame';

describe('UDP endpoints', () => {
  it('reads and writes WireGuard-style endpoints', () => {
    expect(parseUdpEndpoint('198.18.0.2:51820')).toEqual({ ip: '198.18.0.2', port: 51820 });
    expect(parseUdpEndpoint('[2001:DB8::2]:3478')).toEqual({ ip: '2001:db8::2', port: 3478 });
    expect(formatUdpEndpoint({ ip: '2001:db8::2', port: 3478 })).toBe('[2001:db8::2]:3478');
    for (const bad of ['198.18.0.2', '198.18.0.2:0', '198.18.0.2:65536', '2001:db8::2:3478', '[198.18.0.2]:1', 'host:1', '010.0.0.1:5']) {
      expect(parseUdpEndpoint(bad)).toBeNull();
    }
  });

  it('encodes addresses as the Go side does: family, bytes, port; IPv4-mapped IPv6 as IPv4', () => {
    expect(encodeIp(null)).toEqual(Buffer.from([0]));
    expect(encodeIp('198.18.0.1')).toEqual(Buffer.from([4, 198, 18, 0, 1]));
    expect(encodeIp('::ffff:198.18.0.1')).toEqual(Buffer.from([4, 198, 18, 0, 1]));
    expect(encodeEndpoint({ ip: '198.18.0.1', port: 51820 })).toEqual(Buffer.from([4, 198, 18, 0, 1, 0xca, 0x6c]));
    const v6 = encodeEndpoint({ ip: '2001:db8::1', port: 1 });
    expect(v6.length).toBe(19);
    expect(decodeEndpoint(v6, 0)).toEqual({ endpoint: { ip: '2001:db8::1', port: 1 }, next: 19 });
    expect(decodeIp(Buffer.from([0, 9]), 0)).toEqual({ ip: null, next: 1 });
    expect(() => decodeIp(Buffer.from([5]), 0)).toThrow(/family 5/);
    expect(() => decodeEndpoint(Buffer.from([4, 1, 2, 3, 4, 0]), 0)).toThrow(/port cut short/);
    expect(() => encodeIp('eth0')).toThrow(/not an IP address/);
  });
});

describe('FrameReader', () => {
  it('cuts a stream into frames however it arrives', () => {
    const frames = [Buffer.from([1, 2, 3]), Buffer.from([4]), Buffer.alloc(70_000, 7)];
    const stream = Buffer.concat(frames.map(encodeFrame));
    const r = new FrameReader();
    const got: Buffer[] = [];
    for (let i = 0; i < stream.length; i += 1000) got.push(...r.push(stream.subarray(i, i + 1000)));
    expect(got).toEqual(frames);
  });

  it('refuses an empty or oversized frame', () => {
    expect(() => new FrameReader().push(Buffer.from([0, 0, 0, 0]))).toThrow(/0 bytes/);
    const big = Buffer.alloc(4);
    big.writeUInt32BE(MAX_FRAME + 1, 0);
    expect(() => new FrameReader().push(big)).toThrow(/allowed/);
  });
});
