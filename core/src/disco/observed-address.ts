/**
 * A pong's body: the address and port its ping came from, as the answering side saw it (like
 * STUN's XOR-MAPPED-ADDRESS, in the clear): family (4 or 6), the address bytes, a big-endian port.
 */
import { formatIp, parseIp } from '../net';

/** encodeObservedAddress writes "ip:port" / "[ip6]:port" as a pong body. */
export function encodeObservedAddress(ip: string, port: number): Buffer {
  const a = parseIp(ip);
  if (!a || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${ip}:${port} is not an address and port`);
  const out = Buffer.alloc(1 + a.bytes.length + 2);
  out[0] = a.family;
  Buffer.from(a.bytes).copy(out, 1);
  out.writeUInt16BE(port, 1 + a.bytes.length);
  return out;
}

/** decodeObservedAddress reads a pong body; null when it is not one. */
export function decodeObservedAddress(b: Buffer): { ip: string; port: number } | null {
  const len = b[0] === 4 ? 4 : b[0] === 6 ? 16 : 0;
  if (len === 0 || b.length < 1 + len + 2) return null;
  return { ip: formatIp({ family: b[0] as 4 | 6, bytes: Uint8Array.from(b.subarray(1, 1 + len)) }), port: b.readUInt16BE(1 + len) };
}
