/**
 * disco: the Trellis disco message format (core/native/trellis-wg/PROTOCOL.md, "Disco messages"),
 * the pings, pongs and path messages nodes and relays exchange on their WireGuard UDP sockets.
 * Every message is authenticated with HMAC-SHA256 under the pair's key, which both ends derive
 * from their WireGuard keys: SHA-256("trellis-disco-v1" || X25519(own private, peer public)).
 * The Go side (trellis-wg's relay) implements the same format; both are checked against
 * core/native/trellis-wg/testdata/disco-vectors.json.
 *
 *   offset size
 *   0      4    magic "TRLD"
 *   4      1    version (1)
 *   5      1    type: 1 ping, 2 pong, 3 path
 *   6      32   sender's WireGuard public key
 *   38     32   receiver's WireGuard public key
 *   70     12   transaction id (a pong repeats its ping's)
 *   82     8    sender's clock, Unix microseconds, big-endian
 *   90     n    body (ping: padding, ignored; pong: the observed address; path: the agent's)
 *   90+n   32   HMAC-SHA256(pair key, bytes 0 .. 90+n)
 */
import { createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, timingSafeEqual } from 'node:crypto';

export const DISCO_MAGIC = Buffer.from('TRLD', 'ascii');
export const DISCO_VERSION = 1;
export const DiscoType = { PING: 1, PONG: 2, PATH: 3 } as const;
export type DiscoTypeCode = (typeof DiscoType)[keyof typeof DiscoType];

export const DISCO_HEADER_LEN = 90;
export const DISCO_MAC_LEN = 32;
export const DISCO_MIN_LEN = DISCO_HEADER_LEN + DISCO_MAC_LEN;
/** A message fits the IPv6 minimum MTU with room for the UDP and IP headers. */
export const DISCO_MAX_LEN = 1232;

const KEY_LABEL = 'trellis-disco-v1';
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

/** A disco message, before sealing or after opening. Keys are base64, as WireGuard writes them. */
export interface DiscoMessage {
  type: number;
  sender: string;
  receiver: string;
  /** 12 bytes. */
  txId: Buffer;
  /** Sender's clock, Unix microseconds. */
  timestampUs: bigint;
  body: Buffer;
}

/** Why a datagram is not an acceptable disco message (counted and dropped by the reader). */
export type DiscoRejection = 'short' | 'long' | 'magic' | 'version' | 'mac';

function key32(b64: string, what: string): Buffer {
  const b = Buffer.from(b64, 'base64');
  if (b.length !== 32 || b.toString('base64') !== b64) throw new Error(`${what} is not a base64 WireGuard key`);
  return b;
}

/**
 * discoPairKey is the MAC key of the pair (own private, peer public); both ends get the same one.
 * It throws for a malformed key or a low-order peer key (an all-zero shared secret).
 */
export function discoPairKey(ownPrivate: string, peerPublic: string): Buffer {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, key32(ownPrivate, 'private key')]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey({ key: Buffer.concat([SPKI_X25519, key32(peerPublic, 'peer public key')]), format: 'der', type: 'spki' });
  const shared = diffieHellman({ privateKey, publicKey });
  if (shared.every((b) => b === 0)) throw new Error('the peer public key is of low order (the X25519 result is all zeros)');
  return createHash('sha256').update(KEY_LABEL).update(shared).digest();
}

/** sealDisco writes a message and its MAC under the pair key. */
export function sealDisco(m: DiscoMessage, pairKey: Buffer): Buffer {
  if (m.txId.length !== 12) throw new Error('a disco transaction id is 12 bytes');
  const head = Buffer.alloc(DISCO_HEADER_LEN);
  DISCO_MAGIC.copy(head, 0);
  head[4] = DISCO_VERSION;
  head[5] = m.type;
  key32(m.sender, 'sender').copy(head, 6);
  key32(m.receiver, 'receiver').copy(head, 38);
  m.txId.copy(head, 70);
  head.writeBigUInt64BE(m.timestampUs, 82);
  const msg = Buffer.concat([head, m.body]);
  if (msg.length + DISCO_MAC_LEN > DISCO_MAX_LEN) throw new Error(`a disco message is at most ${DISCO_MAX_LEN} bytes`);
  return Buffer.concat([msg, createHmac('sha256', pairKey).update(msg).digest()]);
}

/** The fields a reader (or a relay) sees before it knows the pair key. */
export interface DiscoHeader {
  version: number;
  type: number;
  sender: string;
  receiver: string;
}

/** parseDiscoHeader reads the header without checking the MAC. */
export function parseDiscoHeader(b: Buffer): { ok: true; header: DiscoHeader } | { ok: false; why: DiscoRejection } {
  if (b.length < DISCO_MIN_LEN) return { ok: false, why: 'short' };
  if (b.length > DISCO_MAX_LEN) return { ok: false, why: 'long' };
  if (!b.subarray(0, 4).equals(DISCO_MAGIC)) return { ok: false, why: 'magic' };
  if (b[4] !== DISCO_VERSION) return { ok: false, why: 'version' };
  return {
    ok: true,
    header: { version: b[4], type: b[5], sender: b.subarray(6, 38).toString('base64'), receiver: b.subarray(38, 70).toString('base64') },
  };
}

/** openDisco checks the MAC under the pair key and returns the message. */
export function openDisco(b: Buffer, pairKey: Buffer): { ok: true; message: DiscoMessage } | { ok: false; why: DiscoRejection } {
  const h = parseDiscoHeader(b);
  if (!h.ok) return h;
  const end = b.length - DISCO_MAC_LEN;
  const mac = createHmac('sha256', pairKey).update(b.subarray(0, end)).digest();
  if (!timingSafeEqual(mac, b.subarray(end))) return { ok: false, why: 'mac' };
  return {
    ok: true,
    message: {
      type: h.header.type,
      sender: h.header.sender,
      receiver: h.header.receiver,
      txId: Buffer.from(b.subarray(70, 82)),
      timestampUs: b.readBigUInt64BE(82),
      body: Buffer.from(b.subarray(DISCO_HEADER_LEN, end)),
    },
  };
}
