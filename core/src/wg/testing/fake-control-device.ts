/** A fake trellis-wg device at its control socket, for unit tests (never built into the package). */
import { createServer, type Server, type Socket } from 'node:net';
import { DatagramKindCode, FrameReader, FrameType, ResultStatus, decodeEndpoint, decodeIp, encodeEndpoint, encodeFrame, encodeIp } from '../control-frame';
import type { DeviceChannelInfo } from '../device-datagram-channel';

export const FAKE_DEVICE_INFO: DeviceChannelInfo = {
  protocol: 1,
  implementation: 'trellis-wg',
  version: '0.1.0',
  wireguardModule: 'v0.0.0-20260522210424-ecfc5a8d5446',
  iface: 'trltch0',
  listenPort: 51820,
  clients: 1,
  counters: { stun: 0, disco: 0, sourceRetries: 0, delivered: 0, noClient: 0, queueFull: 0, slowClient: 0, sent: 0, sendErrors: 0, refused: 0 },
};

export interface SendSeen {
  id: number;
  to: string;
  from: string | null;
  payload: Buffer;
}

/**
 * FakeControlDevice speaks the device side of trellis-wg's control protocol on a unix socket, as
 * trellis-wg does (internal/control/device.go): hello, results by id, pushed datagrams and info.
 * Unit tests of the agent's path code put it where the WireGuard device would be; onSend lets a
 * test carry what the agent sends to another fake device (a fake underlay).
 */
export class FakeControlDevice {
  /** Called with each accepted send (after its result): a test's underlay delivers it somewhere. */
  onSend: ((s: SendSeen) => void) | null = null;
  readonly sends: SendSeen[] = [];
  /** The JSON objects of watch requests, in order; watchAnswer is what the next one answers. */
  readonly watches: Array<{ addresses: string[]; intervalMs?: number }> = [];
  watchAnswer: { status: number; message: string } = { status: ResultStatus.OK, message: '' };
  /** Public keys (base64) of handshake requests, in order; each is answered ok. */
  readonly handshakes: string[] = [];
  readonly clients: Socket[] = [];
  /** What the next send answers: a status and message. */
  answer: { status: number; message: string } | null = { status: ResultStatus.OK, message: '' };
  hello: Buffer | null = null;
  private server: Server | null = null;
  constructor(readonly path: string) {}

  info(id: number, info: object = FAKE_DEVICE_INFO): Buffer {
    const head = Buffer.alloc(5);
    head[0] = FrameType.INFO;
    head.writeUInt32BE(id, 1);
    return encodeFrame(Buffer.concat([head, Buffer.from(JSON.stringify(info))]));
  }

  listen(): Promise<void> {
    this.server = createServer((sock) => {
      this.clients.push(sock);
      sock.write(this.hello ?? this.info(0));
      const reader = new FrameReader();
      sock.on('data', (chunk: Buffer) => {
        for (const body of reader.push(chunk)) {
          const id = body.readUInt32BE(1);
          if (body[0] === FrameType.GET_INFO) {
            sock.write(this.info(id, { ...FAKE_DEVICE_INFO, counters: { ...FAKE_DEVICE_INFO.counters, sent: this.sends.length } }));
          } else if (body[0] === FrameType.SEND) {
            const to = decodeEndpoint(body, 5);
            const from = decodeIp(body, to.next);
            this.sends.push({ id, to: `${to.endpoint!.ip}:${to.endpoint!.port}`, from: from.ip, payload: body.subarray(from.next) });
            if (this.answer) sock.write(this.result(id, this.answer.status, this.answer.message));
            if (this.answer?.status === ResultStatus.OK) this.onSend?.(this.sends.at(-1)!);
          } else if (body[0] === FrameType.HANDSHAKE) {
            this.handshakes.push(body.subarray(5, 37).toString('base64'));
            sock.write(this.result(id, ResultStatus.OK, ''));
          } else if (body[0] === FrameType.WATCH) {
            this.watches.push(JSON.parse(body.subarray(5).toString('utf8')) as { addresses: string[]; intervalMs?: number });
            sock.write(this.result(id, this.watchAnswer.status, this.watchAnswer.message));
          }
        }
      });
      sock.on('error', () => undefined);
    });
    return new Promise((resolve) => this.server!.listen(this.path, resolve));
  }

  result(id: number, status: number, message: string): Buffer {
    const head = Buffer.alloc(6);
    head[0] = FrameType.RESULT;
    head.writeUInt32BE(id, 1);
    head[5] = status;
    return encodeFrame(Buffer.concat([head, Buffer.from(message)]));
  }

  datagram(kind: number, from: { ip: string; port: number }, local: string | null, payload: Buffer): Buffer {
    return encodeFrame(Buffer.concat([Buffer.from([FrameType.DATAGRAM, kind]), encodeEndpoint(from), encodeIp(local), payload]));
  }

  /** demand builds a DEMAND frame: a watched address's packet crossed the TUN. */
  demand(direction: 'outbound' | 'inbound', address: string): Buffer {
    return encodeFrame(Buffer.concat([Buffer.from([FrameType.DEMAND, direction === 'outbound' ? 1 : 2]), encodeIp(address)]));
  }

  push(frame: Buffer): void {
    for (const c of this.clients) c.write(frame);
  }

  /** deliver pushes one datagram to every connected client, as if it arrived on the WireGuard socket. */
  deliver(kind: 'stun' | 'disco', from: { ip: string; port: number }, payload: Buffer): void {
    this.push(this.datagram(DatagramKindCode[kind], from, null, payload));
  }

  /** dropClients ends every client connection, as a device that went away. */
  dropClients(): void {
    for (const c of this.clients.splice(0)) c.destroy();
  }

  close(): Promise<void> {
    for (const c of this.clients) c.destroy();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

