/**
 * The frames of trellis-wg's control sockets (core/native/trellis-wg/PROTOCOL.md, "Control
 * socket"): a big-endian u32 length, then a body whose first byte is its type. Datagrams travel
 * as binary; everything else is JSON. Shared by DeviceDatagramChannel and RelayControl.
 */
import { formatIp, parseIp } from '../net';

export const FrameType = {
  /** device/relay → client: id u32, JSON object. Sent on connect and on change with id 0. */
  INFO: 0x01,
  /** device → client: kind u8, from endpoint, local ip, payload. */
  DATAGRAM: 0x02,
  /** client → device: id u32, to endpoint, from ip, payload. */
  SEND: 0x03,
  /** device/relay → client: id u32, status u8, message (UTF-8). */
  RESULT: 0x04,
  /** client → device/relay: id u32. */
  GET_INFO: 0x05,
  /** client → device: id u32, the peer's public key (32 bytes): start a handshake with it now. */
  HANDSHAKE: 0x06,
  /** client → device: id u32, JSON object {addresses, intervalMs}: the overlay addresses whose traffic the device reports. */
  WATCH: 0x07,
  /** device → client: direction u8 (1 outbound, 2 inbound), ip: a watched address's packet crossed the TUN. */
  DEMAND: 0x08,
  /** client → relay: id u32, JSON object. */
  RELAY_CONFIG: 0x10,
} as const;

export const ResultStatus = {
  OK: 0,
  MALFORMED: 1,
  REFUSED: 2,
  SEND_FAILED: 3,
  CLOSED: 4,
  UNKNOWN_TYPE: 5,
  INVALID_INPUT: 6,
  NO_PEER: 7,
} as const;

/** Datagram kinds in a DATAGRAM frame (the Go side's datagram.Kind). */
export const DatagramKindCode = { stun: 1, disco: 2 } as const;

/** MAX_FRAME bounds a frame body; a larger announced length means a broken peer. */
export const MAX_FRAME = 1 << 17;

/** encodeFrame prefixes a body with its length. */
export function encodeFrame(body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

/** requestFrame is a request of a type with an id, followed by its rest. */
export function requestFrame(type: number, id: number, ...rest: Buffer[]): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeUInt32BE(id >>> 0, 1);
  return encodeFrame(Buffer.concat([head, ...rest]));
}

/** FrameReader cuts a byte stream into frame bodies. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  /** push adds bytes and returns every body completed by them; it throws on an oversized frame. */
  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    while (this.buf.length >= 4) {
      const n = this.buf.readUInt32BE(0);
      if (n === 0 || n > MAX_FRAME) throw new Error(`control frame of ${n} bytes (allowed 1..${MAX_FRAME})`);
      if (this.buf.length < 4 + n) break;
      out.push(this.buf.subarray(4, 4 + n));
      this.buf = this.buf.subarray(4 + n);
    }
    return out;
  }
}

/** An address and port, as a WireGuard endpoint is written: "198.18.0.2:51820", "[2001:db8::2]:51820". */
export interface UdpEndpoint {
  ip: string;
  port: number;
}

/** parseUdpEndpoint reads "ip:port" / "[ip6]:port"; null when it is not one (port 1-65535). */
export function parseUdpEndpoint(text: string): UdpEndpoint | null {
  // Brackets for IPv6 only, as WireGuard writes endpoints.
  const m = /^\[([^\]]*:[^\]]*)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (!m) return null;
  const ip = parseIp(m[1]);
  const port = Number(m[2]);
  if (!ip || port < 1 || port > 65535) return null;
  return { ip: formatIp(ip), port };
}

/** formatUdpEndpoint writes an endpoint the way WireGuard and parseUdpEndpoint do. */
export function formatUdpEndpoint(e: UdpEndpoint): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

/** encodeIp writes family (0 none, 4, 6) and the address bytes; IPv4-mapped IPv6 is written as IPv4. */
export function encodeIp(ip: string | null): Buffer {
  if (ip === null) return Buffer.from([0]);
  const a = parseIp(ip);
  if (!a) throw new Error(`"${ip}" is not an IP address`);
  const bytes = Buffer.from(a.bytes);
  const mapped = a.family === 6 && bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (a.family === 4 || mapped) return Buffer.concat([Buffer.from([4]), mapped ? bytes.subarray(12) : bytes]);
  return Buffer.concat([Buffer.from([6]), bytes]);
}

/** encodeEndpoint writes encodeIp(ip) and the big-endian port. */
export function encodeEndpoint(e: UdpEndpoint): Buffer {
  const port = Buffer.alloc(2);
  port.writeUInt16BE(e.port, 0);
  return Buffer.concat([encodeIp(e.ip), port]);
}

/** decodeIp reads what encodeIp wrote, from `at`; it throws when the body is cut short. */
export function decodeIp(b: Buffer, at: number): { ip: string | null; next: number } {
  const family = b[at];
  if (family === 0) return { ip: null, next: at + 1 };
  if (family !== 4 && family !== 6) throw new Error(`address family ${family} is not 0, 4 or 6`);
  const len = family === 4 ? 4 : 16;
  if (b.length < at + 1 + len) throw new Error('address cut short');
  return { ip: formatIp({ family, bytes: Uint8Array.from(b.subarray(at + 1, at + 1 + len)) }), next: at + 1 + len };
}

/** decodeEndpoint reads what encodeEndpoint wrote. */
export function decodeEndpoint(b: Buffer, at: number): { endpoint: UdpEndpoint | null; next: number } {
  const { ip, next } = decodeIp(b, at);
  if (ip === null) return { endpoint: null, next };
  if (b.length < next + 2) throw new Error('port cut short');
  return { endpoint: { ip, port: b.readUInt16BE(next) }, next: next + 2 };
}

/** A decoded RESULT frame. */
export interface ControlResult {
  id: number;
  status: number;
  message: string;
}

export function decodeResult(body: Buffer): ControlResult {
  if (body.length < 6) throw new Error('result frame cut short');
  return { id: body.readUInt32BE(1), status: body[5], message: body.subarray(6).toString('utf8') };
}

/** decodeInfo reads an INFO frame: its id and JSON object. */
export function decodeInfo<T>(body: Buffer): { id: number; info: T } {
  if (body.length < 6) throw new Error('info frame cut short');
  return { id: body.readUInt32BE(1), info: JSON.parse(body.subarray(5).toString('utf8')) as T };
}
