import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateWgKeyPair, wgPublicKeyFromPrivate } from '../auth/keys';
import { DISCO_HEADER_LEN, DiscoType, discoPairKey, openDisco, parseDiscoHeader, sealDisco } from './disco-message';
import { decodeObservedAddress, encodeObservedAddress } from './observed-address';

/** The vectors the Go implementation (trellis-wg's relay) writes and checks: both sides must agree byte for byte. */
interface Vector {
  name: string;
  senderPrivate: string;
  receiverPrivate: string;
  type: number;
  txId: string;
  timestampMicros: number;
  bodyHex: string;
  senderPublic: string;
  receiverPublic: string;
  pairKeyHex: string;
  sealedHex: string;
  observedAddress?: string;
}
const VECTORS = JSON.parse(
  readFileSync(join(__dirname, '..', '..', 'native', 'trellis-wg', 'testdata', 'disco-vectors.json'), 'utf8').replace(
    /"timestampMicros": (\d+)/g,
    '"timestampMicros": "$1"',
  ),
) as Array<Omit<Vector, 'timestampMicros'> & { timestampMicros: string }>;

describe('disco messages match the Go implementation', () => {
  it.each(VECTORS.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    expect(wgPublicKeyFromPrivate(v.senderPrivate)).toBe(v.senderPublic);
    const key = discoPairKey(v.senderPrivate, v.receiverPublic);
    expect(key.toString('hex')).toBe(v.pairKeyHex);
    // The other end derives the same key.
    expect(discoPairKey(v.receiverPrivate, v.senderPublic).toString('hex')).toBe(v.pairKeyHex);
    const sealed = sealDisco(
      {
        type: v.type,
        sender: v.senderPublic,
        receiver: v.receiverPublic,
        txId: Buffer.from(v.txId, 'hex'),
        timestampUs: BigInt(v.timestampMicros),
        body: Buffer.from(v.bodyHex, 'hex'),
      },
      key,
    );
    expect(sealed.toString('hex')).toBe(v.sealedHex);
    const opened = openDisco(Buffer.from(v.sealedHex, 'hex'), key);
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    expect(opened.message.timestampUs).toBe(BigInt(v.timestampMicros));
    if (v.observedAddress) {
      const o = decodeObservedAddress(opened.message.body);
      expect(o && `${o.ip}:${o.port}`).toBe(v.observedAddress);
    }
  });
});

describe('openDisco', () => {
  const a = generateWgKeyPair();
  const b = generateWgKeyPair();
  const key = discoPairKey(a.privateKey, b.publicKey);
  const ping = sealDisco({ type: DiscoType.PING, sender: a.publicKey, receiver: b.publicKey, txId: randomBytes(12), timestampUs: 1n, body: Buffer.alloc(0) }, key);

  it('refuses every changed bit, another pair key, and truncation', () => {
    for (let i = 0; i < ping.length; i++) {
      const bad = Buffer.from(ping);
      bad[i] ^= 0x01;
      expect(openDisco(bad, key).ok).toBe(false);
    }
    expect(openDisco(ping, discoPairKey(generateWgKeyPair().privateKey, b.publicKey))).toEqual({ ok: false, why: 'mac' });
    expect(openDisco(ping.subarray(0, DISCO_HEADER_LEN + 31), key)).toEqual({ ok: false, why: 'short' });
  });

  it('reads the header without the key, as a relay does', () => {
    expect(parseDiscoHeader(ping)).toEqual({ ok: true, header: { version: 1, type: 1, sender: a.publicKey, receiver: b.publicKey } });
    const v2 = Buffer.from(ping);
    v2[4] = 2;
    expect(parseDiscoHeader(v2)).toEqual({ ok: false, why: 'version' });
    expect(parseDiscoHeader(Buffer.concat([Buffer.from('XRLD'), ping.subarray(4)]))).toEqual({ ok: false, why: 'magic' });
  });

  it('refuses malformed keys and low-order peers', () => {
    expect(() => discoPairKey('short', b.publicKey)).toThrow(/not a base64 WireGuard key/);
    expect(() => discoPairKey(a.privateKey, Buffer.alloc(32).toString('base64'))).toThrow();
    expect(() => sealDisco({ type: 1, sender: a.publicKey, receiver: b.publicKey, txId: Buffer.alloc(11), timestampUs: 0n, body: Buffer.alloc(0) }, key)).toThrow(
      /12 bytes/,
    );
  });
});

it('observed addresses round-trip for both families', () => {
  expect(decodeObservedAddress(encodeObservedAddress('198.18.0.11', 51820))).toEqual({ ip: '198.18.0.11', port: 51820 });
  expect(decodeObservedAddress(encodeObservedAddress('2001:db8::5', 3478))).toEqual({ ip: '2001:db8::5', port: 3478 });
  expect(decodeObservedAddress(Buffer.from([4, 1, 2]))).toBeNull();
  expect(() => encodeObservedAddress('nope', 1)).toThrow();
});
