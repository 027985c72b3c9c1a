import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { decodeXorMappedAddress, encodeMappedAddress, encodeXorMappedAddress, decodeMappedAddress } from './stun-address';
import {
  StunAttr,
  StunClass,
  StunMethod,
  attribute,
  encodeStunMessage,
  looksLikeStun,
  messageType,
  parseErrorCode,
  errorCodeAttribute,
  parseStunMessage,
  softwareAttribute,
  unknownRequiredAttributes,
  verifyMessageIntegrity,
  type StunMessage,
} from './stun-message';
import { RFC5769_IPV4_RESPONSE, RFC5769_IPV6_RESPONSE, RFC5769_LONG_TERM_REQUEST, RFC5769_PASSWORD, RFC5769_REQUEST, RFC5769_TRANSACTION_ID } from './testing/rfc5769-vectors';

function parsed(bytes: Uint8Array): StunMessage {
  const r = parseStunMessage(bytes);
  if (!r.ok) throw new Error(`did not parse: ${r.reason}`);
  return r.message;
}

describe('RFC 5769 test vectors', () => {
  it('§2.1 sample request: a Binding request with its attributes, FINGERPRINT and MESSAGE-INTEGRITY verified', () => {
    const m = parsed(RFC5769_REQUEST);
    expect(m.cls).toBe(StunClass.request);
    expect(m.method).toBe(StunMethod.binding);
    expect(m.transactionId).toEqual(RFC5769_TRANSACTION_ID);
    expect(m.attributes.map((a) => a.type)).toEqual([StunAttr.SOFTWARE, StunAttr.PRIORITY, StunAttr.ICE_CONTROLLED, StunAttr.USERNAME, StunAttr.MESSAGE_INTEGRITY, StunAttr.FINGERPRINT]);
    expect(attribute(m, StunAttr.SOFTWARE)?.value.toString()).toBe('STUN test client');
    expect(attribute(m, StunAttr.USERNAME)?.value.toString()).toBe('evtj:h6vY');
    expect(attribute(m, StunAttr.PRIORITY)?.value.readUInt32BE(0)).toBe(0x6e0001ff);
    expect(m.fingerprint).toBe(true);
    expect(verifyMessageIntegrity(m, RFC5769_PASSWORD)).toBe(true);
    expect(verifyMessageIntegrity(m, 'wrong password')).toBe(false);
    expect(unknownRequiredAttributes(m)).toEqual([]);
  });

  it('§2.2 sample IPv4 response: XOR-MAPPED-ADDRESS 192.0.2.1:32853, and our encoder produces the same bytes', () => {
    const m = parsed(RFC5769_IPV4_RESPONSE);
    expect(m.cls).toBe(StunClass.success);
    expect(verifyMessageIntegrity(m, RFC5769_PASSWORD)).toBe(true);
    const xor = attribute(m, StunAttr.XOR_MAPPED_ADDRESS)!;
    expect(decodeXorMappedAddress(xor.value, m.transactionId)).toEqual({ family: 'IPv4', address: '192.0.2.1', port: 32853 });
    expect(encodeXorMappedAddress({ family: 'IPv4', address: '192.0.2.1', port: 32853 }, m.transactionId)).toEqual(xor.value);
  });

  it('§2.3 sample IPv6 response: XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853, both ways', () => {
    const m = parsed(RFC5769_IPV6_RESPONSE);
    expect(verifyMessageIntegrity(m, RFC5769_PASSWORD)).toBe(true);
    const xor = attribute(m, StunAttr.XOR_MAPPED_ADDRESS)!;
    const addr = { family: 'IPv6' as const, address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 };
    expect(decodeXorMappedAddress(xor.value, m.transactionId)).toEqual(addr);
    expect(encodeXorMappedAddress(addr, m.transactionId)).toEqual(xor.value);
  });

  it('§2.4 long-term request: parses (no FINGERPRINT), UTF-8 USERNAME, REALM and NONCE', () => {
    const m = parsed(RFC5769_LONG_TERM_REQUEST);
    expect(m.fingerprint).toBe(false);
    expect(attribute(m, StunAttr.USERNAME)?.value.toString()).toBe('\u30de\u30c8\u30ea\u30c3\u30af\u30b9');
    expect(attribute(m, StunAttr.REALM)?.value.toString()).toBe('example.org');
    expect(attribute(m, StunAttr.NONCE)?.value.toString()).toBe('f//499k954d6OL34oL9FSTvy64sA');
  });

  it('a flipped bit anywhere before FINGERPRINT is caught (the vector is not parsed)', () => {
    for (let i = 20; i < RFC5769_REQUEST.length - 8; i++) {
      const bytes = Buffer.from(RFC5769_REQUEST);
      bytes[i] = bytes[i]! ^ 0x01;
      const r = parseStunMessage(bytes);
      // Either the framing breaks or FINGERPRINT no longer matches; never a silent success.
      expect(r.ok).toBe(false);
    }
  });
});

describe('parseStunMessage framing rules', () => {
  const ok = () => Buffer.from(RFC5769_REQUEST);
  it.each<[string, (b: Buffer) => Buffer, RegExp]>([
    ['too short', (b) => b.subarray(0, 19), /shorter than the 20-byte header/],
    ['top bits set', (b) => (b.writeUInt8(0x40, 0), b), /two most significant bits/],
    ['length not a multiple of 4', (b) => (b.writeUInt16BE(0x57, 2), b), /not a multiple of 4/],
    ['length beyond the datagram', (b) => (b.writeUInt16BE(0x5c, 2), b), /does not match the datagram/],
    ['trailing bytes', (b) => Buffer.concat([b, Buffer.alloc(4)]), /does not match the datagram/],
    ['no magic cookie (RFC 3489)', (b) => (b.writeUInt32BE(0x12345678, 4), b), /no magic cookie/],
    ['FINGERPRINT wrong', (b) => (b.writeUInt32BE(0, b.length - 4), b), /FINGERPRINT does not match/],
  ])('%s is refused', (_name, mutate, reason) => {
    const r = parseStunMessage(mutate(ok()));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it('an attribute running past the end is refused', () => {
    const m = encodeStunMessage({ cls: StunClass.request, method: 1, attributes: [softwareAttribute('abcd')], fingerprint: false });
    m.writeUInt16BE(40, 22);
    const r = parseStunMessage(m);
    expect(r.ok || r.reason).toMatch(/runs past the end/);
  });

  it('anything after FINGERPRINT is refused; FINGERPRINT must be 4 bytes', () => {
    const withFp = encodeStunMessage({ cls: StunClass.request, method: 1, attributes: [] });
    const after = Buffer.concat([withFp, Buffer.from([0x80, 0x22, 0, 0])]);
    after.writeUInt16BE(after.length - 20, 2);
    // A FINGERPRINT that matches the longer header, so only its position is wrong.
    after.writeUInt32BE((crc32(after.subarray(0, 20)) ^ 0x5354554e) >>> 0, 24);
    expect(parseStunMessage(after)).toMatchObject({ ok: false, reason: expect.stringMatching(/follows FINGERPRINT/) });
    const long = encodeStunMessage({ cls: StunClass.request, method: 1, attributes: [{ type: StunAttr.FINGERPRINT, value: Buffer.alloc(8) }], fingerprint: false });
    expect(parseStunMessage(long)).toMatchObject({ ok: false, reason: expect.stringMatching(/FINGERPRINT is 8 bytes/) });
  });

  it('attributes after MESSAGE-INTEGRITY are kept but ignored (RFC 8489 §9), and unknown ones there do not count', () => {
    const m = parsed(
      encodeStunMessage({
        cls: StunClass.request,
        method: 1,
        attributes: [
          { type: StunAttr.MESSAGE_INTEGRITY, value: Buffer.alloc(20) },
          { type: 0x7777, value: Buffer.alloc(4) },
          { type: StunAttr.SOFTWARE, value: Buffer.from('late') },
        ],
      }),
    );
    expect(m.ignoredFrom).toBe(1);
    expect(attribute(m, StunAttr.SOFTWARE)).toBeUndefined();
    expect(attribute(m, StunAttr.FINGERPRINT)).toBeDefined();
    expect(unknownRequiredAttributes(m)).toEqual([]);
  });

  it('message type packs method and class as in RFC 8489 figure 3', () => {
    expect(messageType(StunMethod.binding, StunClass.request)).toBe(0x0001);
    expect(messageType(StunMethod.binding, StunClass.indication)).toBe(0x0011);
    expect(messageType(StunMethod.binding, StunClass.success)).toBe(0x0101);
    expect(messageType(StunMethod.binding, StunClass.error)).toBe(0x0111);
    expect(messageType(0x003, StunClass.request)).toBe(0x0003); // TURN Allocate
    expect(messageType(0xfff, StunClass.error)).toBe(0x3fff);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xfff }), fc.constantFrom(0, 1, 2, 3), (method, cls) => {
        const p = parsed(encodeStunMessage({ cls: cls as StunClass, method, attributes: [] }));
        return p.method === method && p.cls === cls;
      }),
    );
  });

  it('looksLikeStun tells STUN from WireGuard and disco datagrams', () => {
    expect(looksLikeStun(RFC5769_REQUEST)).toBe(true);
    expect(looksLikeStun(Buffer.from([1, 0, 0, 0, ...Buffer.alloc(144)]))).toBe(false); // WireGuard handshake initiation
    expect(looksLikeStun(Buffer.from('TRLD' + 'x'.repeat(40)))).toBe(false);
  });
});

describe('attribute codecs', () => {
  it('XOR-MAPPED-ADDRESS and MAPPED-ADDRESS round-trip any IPv4 and IPv6 address and port', () => {
    const tx = Buffer.from(RFC5769_TRANSACTION_ID);
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 65535 }), (ip, port) => {
        const family = ip.includes(':') ? ('IPv6' as const) : ('IPv4' as const);
        const a = { family, address: ip, port };
        const x = decodeXorMappedAddress(encodeXorMappedAddress(a, tx), tx)!;
        const p = decodeMappedAddress(encodeMappedAddress(a))!;
        const norm = (s: string) => (family === 'IPv6' ? new URL(`http://[${s}]/`).hostname : s);
        return x.port === port && p.port === port && norm(x.address) === norm(ip) && norm(p.address) === norm(ip);
      }),
    );
  });

  it('a wrong family or length decodes to null', () => {
    expect(decodeXorMappedAddress(Buffer.from([0, 3, 0, 0, 1, 2, 3, 4]), RFC5769_TRANSACTION_ID)).toBeNull();
    expect(decodeXorMappedAddress(Buffer.from([0, 1, 0, 0, 1, 2, 3]), RFC5769_TRANSACTION_ID)).toBeNull();
    expect(decodeMappedAddress(Buffer.from([0, 2, 0, 0, 1, 2, 3, 4]))).toBeNull();
    expect(decodeMappedAddress(Buffer.alloc(2))).toBeNull();
  });

  it('ERROR-CODE carries class and number; SOFTWARE is cut to 127 characters and 763 bytes', () => {
    expect(parseErrorCode(errorCodeAttribute(420, 'Unknown Attribute').value)).toEqual({ code: 420, reason: 'Unknown Attribute' });
    expect(parseErrorCode(Buffer.from([0, 0, 7, 0]))).toBeNull();
    expect(parseErrorCode(Buffer.from([0, 0, 4]))).toBeNull();
    expect([...softwareAttribute('x'.repeat(500)).value.toString()].length).toBe(127);
    expect(softwareAttribute('\u{1F600}'.repeat(300)).value.length).toBeLessThanOrEqual(763);
  });
});

describe('no input makes the parser throw', () => {
  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const r = parseStunMessage(bytes);
        return typeof r.ok === 'boolean';
      }),
      { numRuns: 5000 },
    );
  });

  it('valid headers with random attribute bytes, and the RFC vector with random bytes overwritten', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }).map((b) => b.subarray(0, b.length - (b.length % 4))), fc.uint8Array({ minLength: 12, maxLength: 12 }), (body, tx) => {
        const head = Buffer.alloc(20);
        head.writeUInt16BE(0x0001, 0);
        head.writeUInt16BE(body.length, 2);
        head.writeUInt32BE(0x2112a442, 4);
        Buffer.from(tx).copy(head, 8);
        const r = parseStunMessage(Buffer.concat([head, body]));
        return typeof r.ok === 'boolean';
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(RFC5769_REQUEST.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), (edits) => {
        const b = Buffer.from(RFC5769_REQUEST);
        for (const [i, v] of edits) b[i] = v;
        const r = parseStunMessage(b);
        return typeof r.ok === 'boolean';
      }),
      { numRuns: 5000 },
    );
  });
});
