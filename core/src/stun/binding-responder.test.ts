import fc from 'fast-check';
import { answerBindingRequest } from './binding-responder';
import { decodeXorMappedAddress } from './stun-address';
import { bindingRequest, readBindingResponse } from './stun-binding';
import { StunAttr, StunClass, attribute, encodeStunMessage, parseErrorCode, parseStunMessage } from './stun-message';
import { RFC5769_REQUEST, RFC5769_TRANSACTION_ID } from './testing/rfc5769-vectors';

const FROM = { family: 'IPv4' as const, address: '198.18.0.11', port: 40123 };
const SOFTWARE = 'trellis test';

function reply(bytes: Uint8Array, from = FROM) {
  const a = answerBindingRequest(bytes, from, SOFTWARE);
  const m = a.reply ? parseStunMessage(a.reply) : null;
  return { ...a, message: m && m.ok ? m.message : null };
}

describe('answerBindingRequest', () => {
  it('answers the RFC 5769 sample request with the sender as XOR-MAPPED-ADDRESS, SOFTWARE and FINGERPRINT, same transaction', () => {
    const a = reply(RFC5769_REQUEST);
    expect(a.outcome).toBe('answered');
    const m = a.message!;
    expect(m.cls).toBe(StunClass.success);
    expect(m.transactionId).toEqual(RFC5769_TRANSACTION_ID);
    expect(decodeXorMappedAddress(attribute(m, StunAttr.XOR_MAPPED_ADDRESS)!.value, m.transactionId)).toEqual(FROM);
    expect(attribute(m, StunAttr.SOFTWARE)!.value.toString()).toBe(SOFTWARE);
    expect(m.fingerprint).toBe(true);
    expect(m.attributes.at(-1)!.type).toBe(StunAttr.FINGERPRINT);
  });

  it('answers IPv6 senders with an IPv6 XOR-MAPPED-ADDRESS, and an IPv4-mapped sender as IPv4 (read back by the client codec)', () => {
    const req = bindingRequest();
    const v6 = { family: 'IPv6' as const, address: '2001:db8::7', port: 3478 };
    const r6 = readBindingResponse(answerBindingRequest(req.datagram, v6, SOFTWARE).reply!, req.transactionId);
    expect(r6).toEqual({ ok: true, mapped: v6, attribute: 'xor', software: SOFTWARE });
  });

  it('indications and responses get no answer (ignored); a non-Binding request gets 400', () => {
    const ind = encodeStunMessage({ cls: StunClass.indication, method: 1, attributes: [] });
    expect(reply(ind)).toMatchObject({ outcome: 'ignored', reply: null });
    const resp = encodeStunMessage({ cls: StunClass.success, method: 1, attributes: [] });
    expect(reply(resp)).toMatchObject({ outcome: 'ignored', reply: null });
    const allocate = encodeStunMessage({ cls: StunClass.request, method: 0x003, attributes: [] });
    const a = reply(allocate);
    expect(a.outcome).toBe('rejected');
    expect(a.message!.cls).toBe(StunClass.error);
    expect(a.message!.method).toBe(0x003);
    expect(parseErrorCode(attribute(a.message!, StunAttr.ERROR_CODE)!.value)?.code).toBe(400);
  });

  it('an unknown comprehension-required attribute (e.g. RFC 5780 CHANGE-REQUEST) gets 420 with UNKNOWN-ATTRIBUTES; unknown optional ones are ignored', () => {
    const req = encodeStunMessage({
      cls: StunClass.request,
      method: 1,
      attributes: [
        { type: StunAttr.CHANGE_REQUEST, value: Buffer.alloc(4) },
        { type: 0x7abc, value: Buffer.alloc(2) },
        { type: 0x7abc, value: Buffer.alloc(2) },
        { type: 0xc001, value: Buffer.alloc(3) },
      ],
    });
    const a = reply(req);
    expect(a.outcome).toBe('rejected');
    expect(parseErrorCode(attribute(a.message!, StunAttr.ERROR_CODE)!.value)).toEqual({ code: 420, reason: 'Unknown Attribute' });
    const ua = attribute(a.message!, StunAttr.UNKNOWN_ATTRIBUTES)!.value;
    expect([ua.readUInt16BE(0), ua.readUInt16BE(2)]).toEqual([StunAttr.CHANGE_REQUEST, 0x7abc]);
    expect(ua.length).toBe(4);
    const optional = encodeStunMessage({ cls: StunClass.request, method: 1, attributes: [{ type: 0xc001, value: Buffer.alloc(3) }] });
    expect(reply(optional).outcome).toBe('answered');
    // And the client reads a 420 as an error response with its code.
    expect(readBindingResponse(a.reply!, req.subarray(8, 20))).toEqual({
      ok: false,
      code: 420,
      reason: 'error 420 Unknown Attribute',
    });
  });

  it('a known attribute of the wrong size gets 400 naming it', () => {
    const req = encodeStunMessage({ cls: StunClass.request, method: 1, attributes: [{ type: StunAttr.PRIORITY, value: Buffer.alloc(3) }] });
    const a = reply(req);
    expect(a.outcome).toBe('rejected');
    expect(a.reason).toBe('PRIORITY is 3 bytes, not 4');
    expect(parseErrorCode(attribute(a.message!, StunAttr.ERROR_CODE)!.value)?.reason).toContain('PRIORITY is 3 bytes');
  });

  it('malformed datagrams are dropped with the reason (no reply)', () => {
    for (const bytes of [Buffer.alloc(0), Buffer.from('hello world, not stun'), Buffer.from(RFC5769_REQUEST).subarray(0, 40), Buffer.from([1, 0, 0, 0, ...Buffer.alloc(144)])]) {
      const a = reply(bytes);
      expect(a.outcome).toBe('malformed');
      expect(a.reply).toBeNull();
      expect(a.reason).toEqual(expect.any(String));
    }
  });

  it('never throws, whatever arrives; every reply it makes parses and keeps the transaction id', () => {
    const tx = Buffer.from(RFC5769_TRANSACTION_ID);
    const attrs = fc.array(fc.record({ type: fc.integer({ min: 0, max: 0xffff }), value: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)) }), { maxLength: 6 });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)), attrs.map((a) => encodeStunMessage({ cls: StunClass.request, method: 1, transactionId: tx, attributes: a }))), (bytes) => {
        const a = answerBindingRequest(bytes, FROM, SOFTWARE);
        if (a.reply === null) return a.outcome === 'malformed' || a.outcome === 'ignored';
        const m = parseStunMessage(a.reply);
        return m.ok && m.message.fingerprint && Buffer.from(bytes.subarray(8, 20)).equals(m.message.transactionId);
      }),
      { numRuns: 5000 },
    );
  });
});
