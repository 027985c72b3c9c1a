/**
 * ControlConnection is one client connection to a trellis-wg control socket (a device's or a
 * relay's): it waits for the hello, numbers requests and matches their answers, hands pushed
 * frames (info updates, datagrams) to its owner, and fails every pending request when the
 * connection ends. DeviceDatagramChannel and RelayControl are built on it.
 */
import { createConnection, type Socket } from 'node:net';
import { errors } from '../errors';
import { FrameReader, FrameType, decodeInfo, decodeResult, requestFrame } from './control-frame';

/** The control protocol version this client speaks (every info object carries the server's). */
export const CONTROL_PROTOCOL = 1;

export interface ControlConnectionOptions {
  /** How long open() waits for the hello and a request for its answer. Default 5 s. */
  timeoutMs?: number;
  /** Opens the socket; tests pass their own. Default: a unix socket connection to the path. */
  connect?: (path: string) => Socket;
}

export interface ControlConnectionHandlers {
  /** Every info object pushed by the server (id 0), the hello first. */
  info(info: unknown): void;
  /** Pushed frames other than info (a device's datagrams). Throwing marks the frame malformed. */
  push?(body: Buffer): void;
  /** The connection ended: null when closed normally, else why. */
  closed(err: Error | null): void;
}

interface Pending {
  resolve: (v: Buffer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const DEFAULT_TIMEOUT_MS = 5_000;

export class ControlConnection {
  readonly socketPath: string;
  private readonly sock: Socket;
  private readonly timeoutMs: number;
  private readonly handlers: ControlConnectionHandlers;
  private readonly reader = new FrameReader();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private ended = false;
  private hello: { resolve: () => void; reject: (e: Error) => void } | null = null;

  private constructor(socketPath: string, sock: Socket, timeoutMs: number, handlers: ControlConnectionHandlers) {
    this.socketPath = socketPath;
    this.sock = sock;
    this.timeoutMs = timeoutMs;
    this.handlers = handlers;
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('error', (err) => this.fail(this.error(`${err.message}; is trellis-wg running?`)));
    sock.on('close', () => this.fail(null));
  }

  /** open connects and resolves after the server's hello; it rejects when nothing answers as trellis-wg. */
  static open(socketPath: string, handlers: ControlConnectionHandlers, opts: ControlConnectionOptions = {}): Promise<ControlConnection> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const sock = (opts.connect ?? ((p: string) => createConnection(p)))(socketPath);
    const c = new ControlConnection(socketPath, sock, timeoutMs, handlers);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        c.hello = null;
        c.close();
        reject(c.error(`no hello within ${timeoutMs} ms; is it a trellis-wg control socket?`));
      }, timeoutMs);
      c.hello = {
        resolve: () => {
          clearTimeout(timer);
          resolve(c);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  get closed(): boolean {
    return this.ended;
  }

  error(what: string): Error {
    return errors.controlSocket(this.socketPath, what);
  }

  /** request sends a request of `type` and resolves with its answer's frame body (RESULT or INFO). */
  request(type: number, ...rest: Buffer[]): Promise<Buffer> {
    if (this.ended) return Promise.reject(this.error('the connection is closed'));
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(this.error(`no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.sock.write(requestFrame(type, id, ...rest));
    });
  }

  /** requestInfo asks for the server's info object now. */
  async requestInfo<T>(): Promise<T> {
    const body = await this.request(FrameType.GET_INFO);
    if (body[0] !== FrameType.INFO) throw this.error(decodeResult(body).message);
    return decodeInfo<T>(body).info;
  }

  /** close ends the connection; pending requests reject. */
  close(): void {
    this.sock.destroy();
    this.fail(null);
  }

  private onData(chunk: Buffer): void {
    let bodies: Buffer[];
    try {
      bodies = this.reader.push(chunk);
    } catch (err) {
      this.protocolError((err as Error).message);
      return;
    }
    for (const body of bodies) {
      try {
        this.onFrame(body);
      } catch (err) {
        this.protocolError(`malformed frame (type ${body[0]}): ${(err as Error).message}`);
        return;
      }
      if (this.ended) return;
    }
  }

  private onFrame(body: Buffer): void {
    if (body[0] === FrameType.RESULT) {
      this.settle(decodeResult(body).id, body);
      return;
    }
    if (body[0] === FrameType.INFO) {
      const { id, info } = decodeInfo<{ protocol?: unknown }>(body);
      if (id !== 0) {
        this.settle(id, body);
        return;
      }
      if (info.protocol !== CONTROL_PROTOCOL) {
        this.protocolError(`the server speaks control protocol ${String(info.protocol)}, this client ${CONTROL_PROTOCOL}; update trellis-wg or Trellis`);
        return;
      }
      this.handlers.info(info);
      if (this.hello) {
        this.hello.resolve();
        this.hello = null;
      }
      return;
    }
    if (!this.handlers.push) throw new Error('unexpected frame type');
    this.handlers.push(body);
  }

  private settle(id: number, body: Buffer): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(body);
  }

  private protocolError(what: string): void {
    this.sock.destroy();
    this.fail(this.error(what));
  }

  private fail(err: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    const reason = err ?? this.error('the connection closed; is trellis-wg still running?');
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(reason);
    }
    this.pending.clear();
    if (this.hello) {
      this.hello.reject(reason);
      this.hello = null;
      return;
    }
    this.handlers.closed(err);
  }
}
