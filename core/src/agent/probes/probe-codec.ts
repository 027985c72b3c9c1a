/**
 * The overlay probe packet. Big-endian, 19 bytes of header then the sender's node id:
 *
 *   0  4  magic "TRLP"
 *   4  1  version (1)
 *   5  1  type (1 = ping, 2 = pong)
 *   6  4  seq, uint32
 *  10  8  timestamp, uint64 microseconds on the pinger's monotonic clock (a pong echoes it)
 *  18  1  node id length n (1..255)
 *  19  n  node id, UTF-8 (the sender of this packet: the pinger in a ping, the responder in a pong)
 */
import { errors } from '../../errors';

export const PROBE_MAGIC = 0x54524c50; // "TRLP"
export const PROBE_VERSION = 1;
export const PROBE_HEADER_BYTES = 19;
export const PROBE_MAX_NODE_ID_BYTES = 255;

export const ProbeType = { PING: 1, PONG: 2 } as const;
export type ProbeType = (typeof ProbeType)[keyof typeof ProbeType];

export interface ProbePacket {
  type: ProbeType;
  seq: number;
  /** Microseconds on the pinger's monotonic clock. */
  timestampUs: bigint;
  nodeId: string;
}

/**
 * ProbeEncoder encodes packets for one sender; the node id is converted to bytes once, so each
 * packet costs a single small buffer.
 */
export class ProbeEncoder {
  private readonly idBytes: Buffer;

  constructor(nodeId: string) {
    this.idBytes = Buffer.from(nodeId, 'utf8');
    if (this.idBytes.length === 0 || this.idBytes.length > PROBE_MAX_NODE_ID_BYTES) {
      throw errors.configInvalid(
        'probes.nodeId',
        `node id must be 1..${PROBE_MAX_NODE_ID_BYTES} bytes of UTF-8, got ${this.idBytes.length}`,
      );
    }
  }

  encode(type: ProbeType, seq: number, timestampUs: bigint): Buffer {
    const buf = Buffer.allocUnsafe(PROBE_HEADER_BYTES + this.idBytes.length);
    buf.writeUInt32BE(PROBE_MAGIC, 0);
    buf.writeUInt8(PROBE_VERSION, 4);
    buf.writeUInt8(type, 5);
    buf.writeUInt32BE(seq >>> 0, 6);
    buf.writeBigUInt64BE(BigInt.asUintN(64, timestampUs), 10);
    buf.writeUInt8(this.idBytes.length, 18);
    this.idBytes.copy(buf, PROBE_HEADER_BYTES);
    return buf;
  }
}

/** encodeProbe is the one-off form of ProbeEncoder.encode. */
export function encodeProbe(packet: ProbePacket): Buffer {
  return new ProbeEncoder(packet.nodeId).encode(packet.type, packet.seq, packet.timestampUs);
}

/**
 * decodeProbe returns null for anything that is not a well-formed version-1 probe: it runs in the
 * socket loop, where a stray or hostile datagram must cost nothing and throw nothing.
 */
export function decodeProbe(buf: Uint8Array): ProbePacket | null {
  if (buf.length < PROBE_HEADER_BYTES + 1) return null;
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.readUInt32BE(0) !== PROBE_MAGIC) return null;
  if (b[4] !== PROBE_VERSION) return null;
  const type = b[5];
  if (type !== ProbeType.PING && type !== ProbeType.PONG) return null;
  const idLen = b[18]!;
  if (idLen === 0 || b.length !== PROBE_HEADER_BYTES + idLen) return null;
  return {
    type,
    seq: b.readUInt32BE(6),
    timestampUs: b.readBigUInt64BE(10),
    nodeId: b.toString('utf8', PROBE_HEADER_BYTES, PROBE_HEADER_BYTES + idLen),
  };
}
