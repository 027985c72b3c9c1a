/**
 * stun: the STUN wire format (RFC 8489): the 20-byte header, attribute TLVs, FINGERPRINT and
 * short-term MESSAGE-INTEGRITY. Strict on receipt: a datagram that breaks a framing rule is not a
 * STUN message (parseStunMessage returns why), so a server can drop it and count it. Used by the
 * controller's binding service and by clients (the lab's NAT classification, the agent's STUN
 * through its WireGuard socket); the format is the standard, so public STUN servers answer it too.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const STUN_HEADER_BYTES = 20;
export const STUN_MAGIC_COOKIE = 0x2112a442;
/** FINGERPRINT is CRC-32 of the message so far, XORed with this ("STUN"). */
export const STUN_FINGERPRINT_XOR = 0x5354554e;
/** The largest datagram we take: RFC 8489 §6.1 sizes messages to the path MTU, and UDP carries < 64 KiB. */
export const STUN_MAX_MESSAGE_BYTES = 65_507;

export const StunClass = { request: 0b00, indication: 0b01, success: 0b10, error: 0b11 } as const;
export type StunClass = (typeof StunClass)[keyof typeof StunClass];

export const StunMethod = { binding: 0x001 } as const;

export const StunAttr = {
  MAPPED_ADDRESS: 0x0001,
  CHANGE_REQUEST: 0x0003,
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  UNKNOWN_ATTRIBUTES: 0x000a,
  REALM: 0x0014,
  NONCE: 0x0015,
  MESSAGE_INTEGRITY_SHA256: 0x001c,
  PASSWORD_ALGORITHM: 0x001d,
  USERHASH: 0x001e,
  XOR_MAPPED_ADDRESS: 0x0020,
  PRIORITY: 0x0024,
  USE_CANDIDATE: 0x0025,
  PASSWORD_ALGORITHMS: 0x8002,
  ALTERNATE_DOMAIN: 0x8003,
  SOFTWARE: 0x8022,
  ALTERNATE_SERVER: 0x8023,
  FINGERPRINT: 0x8028,
  ICE_CONTROLLED: 0x8029,
  ICE_CONTROLLING: 0x802a,
} as const;

/**
 * Attributes a Trellis agent understands (RFC 8489 §18.3 and ICE's, RFC 8445 §16.1). A request
 * carrying a comprehension-required attribute (type < 0x8000) outside this set gets a 420 answer.
 */
export const KNOWN_ATTRIBUTES: ReadonlySet<number> = new Set(Object.values(StunAttr).filter((t) => t !== StunAttr.CHANGE_REQUEST));

export interface StunAttribute {
  type: number;
  /** The value without padding (a view into the parsed datagram). */
  value: Buffer;
  /** Byte offset of the attribute's header in the message. */
  offset: number;
}

export interface StunMessage {
  cls: StunClass;
  method: number;
  /** 12 bytes. */
  transactionId: Buffer;
  /** Every attribute in order, including those after MESSAGE-INTEGRITY (receivers ignore those: see `ignoredFrom`). */
  attributes: StunAttribute[];
  /**
   * Index of the first attribute RFC 8489 §9 says to ignore (those after MESSAGE-INTEGRITY and a
   * MESSAGE-INTEGRITY-SHA256 right after it, except FINGERPRINT); attributes.length when none.
   */
  ignoredFrom: number;
  /** True when the message carried a FINGERPRINT and it matched (a mismatch is a parse failure). */
  fingerprint: boolean;
  /** The whole message (header and attributes). */
  raw: Buffer;
}

export type StunParseResult = { ok: true; message: StunMessage } | { ok: false; reason: string };

/** messageType packs method and class into the 14-bit type (RFC 8489 §5, figure 3). */
export function messageType(method: number, cls: StunClass): number {
  return ((method & 0xf80) << 2) | ((method & 0x070) << 1) | (method & 0x00f) | ((cls & 0b10) << 7) | ((cls & 0b01) << 4);
}

function splitType(type: number): { method: number; cls: StunClass } {
  const method = ((type & 0x3e00) >> 2) | ((type & 0x00e0) >> 1) | (type & 0x000f);
  const cls = (((type & 0x0100) >> 7) | ((type & 0x0010) >> 4)) as StunClass;
  return { method, cls };
}

/** looksLikeStun is the cheap demultiplexing test (RFC 8489 §6.3, RFC 7983): top two bits zero and the magic cookie. */
export function looksLikeStun(datagram: Uint8Array): boolean {
  return datagram.length >= STUN_HEADER_BYTES && (datagram[0]! & 0xc0) === 0 && Buffer.from(datagram.buffer, datagram.byteOffset, 8).readUInt32BE(4) === STUN_MAGIC_COOKIE;
}

const padded = (n: number) => (n + 3) & ~3;

/** fingerprintOf is the FINGERPRINT value for msg[0, end) whose header length already counts the FINGERPRINT attribute. */
function fingerprintOf(bytes: Buffer): number {
  return (crc32(bytes) ^ STUN_FINGERPRINT_XOR) >>> 0;
}

/**
 * parseStunMessage checks every framing rule of RFC 8489 §5, §6.3 and §14: length, top bits,
 * length field = datagram length − 20 and a multiple of 4, magic cookie, attribute TLVs inside
 * the message with their padding, FINGERPRINT (4 bytes, last, matching) when present. It never
 * throws: any input gives a message or the first rule it breaks.
 */
export function parseStunMessage(datagram: Uint8Array): StunParseResult {
  const buf = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  if (buf.length < STUN_HEADER_BYTES) return { ok: false, reason: `shorter than the 20-byte header (${buf.length} bytes)` };
  if (buf.length > STUN_MAX_MESSAGE_BYTES) return { ok: false, reason: `longer than ${STUN_MAX_MESSAGE_BYTES} bytes` };
  const type = buf.readUInt16BE(0);
  if ((type & 0xc000) !== 0) return { ok: false, reason: 'the two most significant bits are not zero' };
  const length = buf.readUInt16BE(2);
  if (length % 4 !== 0) return { ok: false, reason: `message length ${length} is not a multiple of 4` };
  if (length + STUN_HEADER_BYTES !== buf.length) return { ok: false, reason: `message length ${length} does not match the datagram (${buf.length - STUN_HEADER_BYTES} bytes after the header)` };
  if (buf.readUInt32BE(4) !== STUN_MAGIC_COOKIE) return { ok: false, reason: 'no magic cookie (0x2112A442)' };
  const { method, cls } = splitType(type);
  const attributes: StunAttribute[] = [];
  let fingerprint = false;
  let at = STUN_HEADER_BYTES;
  while (at < buf.length) {
    if (fingerprint) return { ok: false, reason: 'an attribute follows FINGERPRINT, which must be last' };
    if (buf.length - at < 4) return { ok: false, reason: `attribute header at byte ${at} is cut short` };
    const attrType = buf.readUInt16BE(at);
    const attrLen = buf.readUInt16BE(at + 2);
    if (at + 4 + padded(attrLen) > buf.length) {
      return { ok: false, reason: `attribute 0x${attrType.toString(16).padStart(4, '0')} at byte ${at} runs past the end (${attrLen} bytes)` };
    }
    const value = buf.subarray(at + 4, at + 4 + attrLen);
    if (attrType === StunAttr.FINGERPRINT) {
      if (attrLen !== 4) return { ok: false, reason: `FINGERPRINT is ${attrLen} bytes, not 4` };
      if (value.readUInt32BE(0) !== fingerprintOf(buf.subarray(0, at))) return { ok: false, reason: 'FINGERPRINT does not match the message' };
      fingerprint = true;
    }
    attributes.push({ type: attrType, value, offset: at });
    at += 4 + padded(attrLen);
  }
  // RFC 8489 §9: after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT count; the rest is kept but ignored.
  let ignoredFrom = attributes.findIndex((a) => a.type === StunAttr.MESSAGE_INTEGRITY || a.type === StunAttr.MESSAGE_INTEGRITY_SHA256);
  if (ignoredFrom < 0) ignoredFrom = attributes.length;
  else {
    ignoredFrom++;
    if (attributes[ignoredFrom - 1]!.type === StunAttr.MESSAGE_INTEGRITY && attributes[ignoredFrom]?.type === StunAttr.MESSAGE_INTEGRITY_SHA256) ignoredFrom++;
  }
  return {
    ok: true,
    message: { cls, method, transactionId: Buffer.from(buf.subarray(8, 20)), attributes, ignoredFrom, fingerprint, raw: buf },
  };
}

/** attribute returns the first attribute of a type that receivers may use (not one after MESSAGE-INTEGRITY), or undefined. */
export function attribute(m: StunMessage, type: number): StunAttribute | undefined {
  for (let i = 0; i < m.attributes.length; i++) {
    const a = m.attributes[i]!;
    if (a.type !== type) continue;
    if (i < m.ignoredFrom || type === StunAttr.FINGERPRINT) return a;
  }
  return undefined;
}

/** unknownRequiredAttributes lists comprehension-required attribute types (< 0x8000) outside `known`, each once. */
export function unknownRequiredAttributes(m: StunMessage, known: ReadonlySet<number> = KNOWN_ATTRIBUTES): number[] {
  const out: number[] = [];
  for (const a of m.attributes.slice(0, m.ignoredFrom)) {
    if (a.type < 0x8000 && !known.has(a.type) && !out.includes(a.type)) out.push(a.type);
  }
  return out;
}

/**
 * verifyMessageIntegrity checks a short-term-credential MESSAGE-INTEGRITY (HMAC-SHA1 keyed with the
 * password, RFC 8489 §14.5): over the message up to the attribute, with the header length counting
 * up to and including it. False when absent or wrong.
 */
export function verifyMessageIntegrity(m: StunMessage, password: string): boolean {
  const mi = m.attributes.find((a) => a.type === StunAttr.MESSAGE_INTEGRITY);
  if (!mi || mi.value.length !== 20) return false;
  const head = Buffer.from(m.raw.subarray(0, mi.offset));
  head.writeUInt16BE(mi.offset + 4 + 20 - STUN_HEADER_BYTES, 2);
  const mac = createHmac('sha1', Buffer.from(password.normalize('NFKC'), 'utf8')).update(head).digest();
  return mac.equals(mi.value);
}

export interface StunMessageSpec {
  cls: StunClass;
  method: number;
  /** 12 bytes; default random. */
  transactionId?: Buffer;
  attributes: Array<{ type: number; value: Buffer }>;
  /** Append FINGERPRINT (default true). */
  fingerprint?: boolean;
}

/** encodeStunMessage lays out a message: header, padded attributes, and FINGERPRINT last. */
export function encodeStunMessage(spec: StunMessageSpec): Buffer {
  const tx = spec.transactionId ?? newTransactionId();
  if (tx.length !== 12) throw new RangeError(`a STUN transaction id is 12 bytes, not ${tx.length}`);
  const withFingerprint = spec.fingerprint ?? true;
  const bodyLen = spec.attributes.reduce((n, a) => n + 4 + padded(a.value.length), 0) + (withFingerprint ? 8 : 0);
  const out = Buffer.alloc(STUN_HEADER_BYTES + bodyLen);
  out.writeUInt16BE(messageType(spec.method, spec.cls), 0);
  out.writeUInt16BE(bodyLen, 2);
  out.writeUInt32BE(STUN_MAGIC_COOKIE, 4);
  tx.copy(out, 8);
  let at = STUN_HEADER_BYTES;
  for (const a of spec.attributes) {
    if (a.value.length > 0xffff) throw new RangeError(`STUN attribute 0x${a.type.toString(16)} is longer than 65535 bytes`);
    out.writeUInt16BE(a.type, at);
    out.writeUInt16BE(a.value.length, at + 2);
    a.value.copy(out, at + 4);
    at += 4 + padded(a.value.length);
  }
  if (withFingerprint) {
    out.writeUInt16BE(StunAttr.FINGERPRINT, at);
    out.writeUInt16BE(4, at + 2);
    out.writeUInt32BE(fingerprintOf(out.subarray(0, at)), at + 4);
  }
  return out;
}

/** newTransactionId is 96 random bits (RFC 8489 §5: cryptographically random). */
export function newTransactionId(): Buffer {
  return randomBytes(12);
}

/** softwareAttribute: SOFTWARE is UTF-8 of fewer than 128 characters and at most 763 bytes (RFC 8489 §14.14). */
export function softwareAttribute(text: string): { type: number; value: Buffer } {
  let chars = [...text].slice(0, 127).join('');
  let value = Buffer.from(chars, 'utf8');
  while (value.length > 763) {
    chars = [...chars].slice(0, -1).join('');
    value = Buffer.from(chars, 'utf8');
  }
  return { type: StunAttr.SOFTWARE, value };
}

/** errorCodeAttribute: ERROR-CODE with class (hundreds) and number, and a UTF-8 reason phrase (RFC 8489 §14.8). */
export function errorCodeAttribute(code: number, reason: string): { type: number; value: Buffer } {
  const phrase = Buffer.from(reason, 'utf8');
  const value = Buffer.alloc(4 + phrase.length);
  value.writeUInt8(Math.floor(code / 100) & 0x07, 2);
  value.writeUInt8(code % 100, 3);
  phrase.copy(value, 4);
  return { type: StunAttr.ERROR_CODE, value };
}

/** parseErrorCode reads ERROR-CODE; null when it is malformed (shorter than 4 bytes or a number outside 0..99, class outside 3..6). */
export function parseErrorCode(value: Buffer): { code: number; reason: string } | null {
  if (value.length < 4) return null;
  const cls = value.readUInt8(2) & 0x07;
  const num = value.readUInt8(3);
  if (cls < 3 || cls > 6 || num > 99) return null;
  return { code: cls * 100 + num, reason: value.subarray(4).toString('utf8') };
}

/** unknownAttributesAttribute: UNKNOWN-ATTRIBUTES lists 16-bit types (RFC 8489 §14.9). */
export function unknownAttributesAttribute(types: readonly number[]): { type: number; value: Buffer } {
  const value = Buffer.alloc(types.length * 2);
  types.forEach((t, i) => value.writeUInt16BE(t, i * 2));
  return { type: StunAttr.UNKNOWN_ATTRIBUTES, value };
}
