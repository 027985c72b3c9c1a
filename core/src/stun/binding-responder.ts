/**
 * answerBindingRequest is a STUN binding server's decision for one datagram (RFC 8489 §6.3, no
 * authentication: the public-server usage): a success response carrying the sender's reflexive
 * address as XOR-MAPPED-ADDRESS (+ SOFTWARE, FINGERPRINT), an error response (400, 420), or
 * nothing. Pure, so the controller's UDP service is a thin shell and every case is unit-tested.
 */
import { encodeXorMappedAddress, type TransportAddress } from './stun-address';
import {
  KNOWN_ATTRIBUTES,
  StunAttr,
  StunClass,
  StunMethod,
  encodeStunMessage,
  errorCodeAttribute,
  parseStunMessage,
  softwareAttribute,
  unknownAttributesAttribute,
  unknownRequiredAttributes,
  type StunMessage,
} from './stun-message';

/**
 * answered: a success response. rejected: a well-formed request we refuse with an error response
 * (unknown method 400, malformed known attribute 400, unknown comprehension-required attribute
 * 420). malformed: not a valid STUN message, dropped. ignored: valid STUN but nothing to answer
 * (indications, responses).
 */
export type BindingOutcome = 'answered' | 'rejected' | 'malformed' | 'ignored';

export interface BindingAnswer {
  outcome: BindingOutcome;
  /** The datagram to send back to the sender; null for malformed and ignored. */
  reply: Buffer | null;
  /** Why it was rejected, dropped or ignored (for debug logs); null when answered. */
  reason: string | null;
}

/** Length rules of the known attributes a request may carry (RFC 8489 §14, RFC 8445 §16.1). */
function badAttribute(m: StunMessage): string | null {
  for (const a of m.attributes.slice(0, m.ignoredFrom)) {
    const len = a.value.length;
    switch (a.type) {
      case StunAttr.USERNAME:
        if (len > 513) return `USERNAME is ${len} bytes (at most 513)`;
        break;
      case StunAttr.SOFTWARE:
        if (len > 763) return `SOFTWARE is ${len} bytes (at most 763)`;
        break;
      case StunAttr.MESSAGE_INTEGRITY:
        if (len !== 20) return `MESSAGE-INTEGRITY is ${len} bytes, not 20`;
        break;
      case StunAttr.MESSAGE_INTEGRITY_SHA256:
        if (len < 16 || len > 32 || len % 4 !== 0) return `MESSAGE-INTEGRITY-SHA256 is ${len} bytes (16..32, a multiple of 4)`;
        break;
      case StunAttr.PRIORITY:
        if (len !== 4) return `PRIORITY is ${len} bytes, not 4`;
        break;
      case StunAttr.USE_CANDIDATE:
        if (len !== 0) return `USE-CANDIDATE is ${len} bytes, not 0`;
        break;
      case StunAttr.ICE_CONTROLLED:
      case StunAttr.ICE_CONTROLLING:
        if (len !== 8) return `ICE-CONTROLLED/-CONTROLLING is ${len} bytes, not 8`;
        break;
      case StunAttr.REALM:
      case StunAttr.NONCE:
        if (len > 763) return `REALM/NONCE is ${len} bytes (at most 763)`;
        break;
      case StunAttr.USERHASH:
        if (len !== 32) return `USERHASH is ${len} bytes, not 32`;
        break;
      default:
        break;
    }
  }
  return null;
}

function errorResponse(m: StunMessage, code: number, reason: string, software: string, extra: Array<{ type: number; value: Buffer }> = []): Buffer {
  return encodeStunMessage({
    cls: StunClass.error,
    method: m.method,
    transactionId: m.transactionId,
    attributes: [errorCodeAttribute(code, reason), ...extra, softwareAttribute(software)],
  });
}

/** answerBindingRequest decides what to send back to `from` for this datagram. It never throws. */
export function answerBindingRequest(datagram: Uint8Array, from: TransportAddress, software: string): BindingAnswer {
  let parsed;
  try {
    parsed = parseStunMessage(datagram);
  } catch (err) {
    return { outcome: 'malformed', reply: null, reason: `parser failed: ${(err as Error).message}` };
  }
  if (!parsed.ok) return { outcome: 'malformed', reply: null, reason: parsed.reason };
  const m = parsed.message;
  if (m.cls !== StunClass.request) {
    return { outcome: 'ignored', reply: null, reason: m.cls === StunClass.indication ? 'an indication (no answer is sent)' : 'a response (this is a server)' };
  }
  if (m.method !== StunMethod.binding) {
    return { outcome: 'rejected', reply: errorResponse(m, 400, 'Bad Request: only Binding is served here', software), reason: `method 0x${m.method.toString(16)} is not Binding` };
  }
  const bad = badAttribute(m);
  if (bad !== null) return { outcome: 'rejected', reply: errorResponse(m, 400, `Bad Request: ${bad}`, software), reason: bad };
  const types = unknownRequiredAttributes(m, KNOWN_ATTRIBUTES);
  if (types.length > 0) {
    return {
      outcome: 'rejected',
      reply: errorResponse(m, 420, 'Unknown Attribute', software, [unknownAttributesAttribute(types)]),
      reason: `unknown comprehension-required attributes ${types.map((t) => `0x${t.toString(16).padStart(4, '0')}`).join(', ')}`,
    };
  }
  const reply = encodeStunMessage({
    cls: StunClass.success,
    method: StunMethod.binding,
    transactionId: m.transactionId,
    attributes: [{ type: StunAttr.XOR_MAPPED_ADDRESS, value: encodeXorMappedAddress(from, m.transactionId) }, softwareAttribute(software)],
  });
  return { outcome: 'answered', reply, reason: null };
}
