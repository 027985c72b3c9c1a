import { decodeProbe, encodeProbe, PROBE_HEADER_BYTES, ProbeEncoder, ProbeType } from './probe-codec';

describe('probe codec', () => {
  it('round-trips a ping and a pong, including a 64-bit timestamp and a UTF-8 node id', () => {
    const ping = { type: ProbeType.PING, seq: 4_294_967_295, timestampUs: 2n ** 60n + 12345n, nodeId: 'n-ø-42' } as const;
    const buf = encodeProbe(ping);
    expect(buf.subarray(0, 4).toString('latin1')).toBe('TRLP');
    expect(buf[4]).toBe(1);
    expect(buf.length).toBe(PROBE_HEADER_BYTES + Buffer.byteLength('n-ø-42'));
    expect(decodeProbe(buf)).toEqual(ping);

    const pong = new ProbeEncoder('peer-b').encode(ProbeType.PONG, 7, 99n);
    expect(decodeProbe(pong)).toEqual({ type: ProbeType.PONG, seq: 7, timestampUs: 99n, nodeId: 'peer-b' });
  });

  it('decodes from a plain Uint8Array view at an offset', () => {
    const buf = encodeProbe({ type: ProbeType.PING, seq: 1, timestampUs: 5n, nodeId: 'x' });
    const big = new Uint8Array(buf.length + 8);
    big.set(buf, 8);
    expect(decodeProbe(big.subarray(8))?.nodeId).toBe('x');
  });

  it('rejects garbage without throwing', () => {
    const good = encodeProbe({ type: ProbeType.PING, seq: 1, timestampUs: 5n, nodeId: 'node-a' });
    const mutate = (i: number, v: number) => {
      const b = Buffer.from(good);
      b[i] = v;
      return b;
    };
    expect(decodeProbe(Buffer.alloc(0))).toBeNull();
    expect(decodeProbe(Buffer.from('hello world, not a probe at all'))).toBeNull();
    expect(decodeProbe(mutate(0, 0x58))).toBeNull(); // magic
    expect(decodeProbe(mutate(4, 2))).toBeNull(); // version
    expect(decodeProbe(mutate(5, 3))).toBeNull(); // type
    expect(decodeProbe(mutate(18, 0))).toBeNull(); // empty id
    expect(decodeProbe(mutate(18, 200))).toBeNull(); // id length beyond the datagram
    expect(decodeProbe(good.subarray(0, good.length - 1))).toBeNull(); // truncated
    expect(decodeProbe(Buffer.concat([good, Buffer.from([0])]))).toBeNull(); // trailing bytes
    expect(decodeProbe(good.subarray(0, PROBE_HEADER_BYTES))).toBeNull();
    for (let i = 0; i < 500; i++) {
      const junk = Buffer.alloc(Math.floor(Math.random() * 64));
      for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(Math.random() * 256);
      expect(() => decodeProbe(junk)).not.toThrow();
    }
  });

  it('refuses node ids that do not fit the length byte', () => {
    expect(() => new ProbeEncoder('')).toThrow(/node id must be 1..255 bytes/);
    expect(() => new ProbeEncoder('x'.repeat(256))).toThrow(/got 256/);
  });
});
