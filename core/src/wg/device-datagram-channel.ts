/**
 * DeviceDatagramChannel is the agent's end of a trellis-wg device's control socket
 * (/var/run/wireguard/<iface>.ctl; PROTOCOL.md "Control socket"): every STUN and Trellis disco
 * datagram that arrives on the WireGuard UDP socket comes out as a `datagram` event, and send()
 * puts a STUN or disco datagram on that same socket, optionally from a chosen local address, so
 * what it measures is the path WireGuard's own datagrams take (and the NAT mapping they use).
 *
 *   const ch = await DeviceDatagramChannel.connect(controlSocketPath('trellis0'));
 *   ch.on('datagram', (d) => { if (d.kind === 'disco') handleDisco(d.from, d.payload); });
 *   await ch.send('198.18.0.2:51820', ping, '198.18.0.1');   // resolves when the kernel took it
 *
 * The Go side is dumb on purpose: it classifies and moves bytes, and all path logic lives in the
 * agent. Datagrams that arrive while no client is connected are dropped (and counted in info).
 */
import { EventEmitter } from 'node:events';
import { ControlConnection, type ControlConnectionOptions } from './control-connection';
import {
  DatagramKindCode,
  FrameType,
  ResultStatus,
  decodeEndpoint,
  decodeIp,
  decodeResult,
  encodeEndpoint,
  encodeIp,
  formatUdpEndpoint,
  parseUdpEndpoint,
} from './control-frame';

export type DeviceDatagramKind = 'stun' | 'disco';

/** One datagram taken off the WireGuard socket. */
export interface DeviceDatagram {
  kind: DeviceDatagramKind;
  /** Where it came from, "ip:port" ("[ip6]:port" for IPv6): the peer's (or its NAT's) address. */
  from: string;
  /**
   * The local address it arrived at, when the kernel reported it. With UDP GRO on (Linux 5.x and
   * later) wireguard-go's batched read drops it, so do not rely on it: match answers to requests
   * by transaction id instead.
   */
  local: string | null;
  payload: Buffer;
}

/** The device's counters (PROTOCOL.md): what the channel filtered, delivered, dropped and sent. */
export interface DeviceChannelCounters {
  /** STUN and disco datagrams taken out of WireGuard's receive batches. */
  stun: number;
  disco: number;
  /** Device sends retried without a remembered source address that had gone stale. */
  sourceRetries: number;
  /** Datagrams handed to at least one client. */
  delivered: number;
  /** Dropped: no client connected, the hand-off queue full, a client too slow. */
  noClient: number;
  queueFull: number;
  slowClient: number;
  /** Sends by clients: accepted by the kernel, failed, refused (neither STUN nor disco). */
  sent: number;
  sendErrors: number;
  refused: number;
  /** Demand frames pushed for watched addresses, watched packets within the interval, addresses watched (absent before on-demand peers). */
  demand?: number;
  demandSuppressed?: number;
  watched?: number;
}

/** A watched overlay address's packet crossed the device's TUN (PROTOCOL.md, watch/demand). */
export interface DeviceDemand {
  /** outbound: the host sent to the address; inbound: the host received from it. */
  direction: 'outbound' | 'inbound';
  address: string;
}

/** What the device says about itself on connect, on a port change, and when asked. */
export interface DeviceChannelInfo {
  protocol: number;
  implementation: string;
  version: string;
  /** The golang.zx2c4.com/wireguard module version it runs. */
  wireguardModule: string;
  iface: string;
  /** The WireGuard listen port; 0 while the socket is closed (device down or changing port). */
  listenPort: number;
  clients: number;
  counters: DeviceChannelCounters;
}

export type DeviceDatagramChannelOptions = ControlConnectionOptions;

export interface DeviceDatagramChannelEvents {
  /** A STUN or disco datagram arrived on the WireGuard socket. */
  datagram: [DeviceDatagram];
  /** A watched address's traffic (watch()); at most once per address, direction and interval. */
  demand: [DeviceDemand];
  /** The device's info changed (its listen port opened, closed or moved). */
  info: [DeviceChannelInfo];
  /** The connection ended: the device stopped, close() was called, or (err set) a protocol error. */
  close: [Error | null];
}

export class DeviceDatagramChannel extends EventEmitter<DeviceDatagramChannelEvents> {
  readonly socketPath: string;
  private conn: ControlConnection | null = null;
  private current: DeviceChannelInfo | null = null;

  private constructor(socketPath: string) {
    super();
    this.socketPath = socketPath;
  }

  /**
   * connect opens the device's control socket and resolves after its hello. It rejects when
   * nothing listens there (upstream wireguard-go has no control socket) or the device speaks
   * another protocol version.
   */
  static async connect(socketPath: string, opts: DeviceDatagramChannelOptions = {}): Promise<DeviceDatagramChannel> {
    const ch = new DeviceDatagramChannel(socketPath);
    ch.conn = await ControlConnection.open(
      socketPath,
      {
        info: (info) => {
          const first = ch.current === null;
          ch.current = info as DeviceChannelInfo;
          if (!first) ch.emit('info', ch.current);
        },
        push: (body) => ch.onPush(body),
        closed: (err) => ch.emit('close', err),
      },
      opts,
    );
    return ch;
  }

  /** info is the device's latest info (its hello, a port change, or requestInfo()). */
  get info(): DeviceChannelInfo {
    return this.current!;
  }

  /** closed says whether the connection has ended. */
  get closed(): boolean {
    return this.conn!.closed;
  }

  /**
   * send puts one STUN or disco datagram on the WireGuard socket, to `to` ("ip:port"), from the
   * local address `from` when given (it must be configured on this host; without it routing
   * chooses). It resolves once the kernel took the datagram and rejects with the reason
   * otherwise: a payload that is neither STUN nor disco, a source the host does not have, the
   * socket closed, no route, or no answer within the timeout.
   */
  async send(to: string, payload: Uint8Array, from?: string): Promise<void> {
    const conn = this.conn!;
    const dst = parseUdpEndpoint(to);
    if (!dst) throw conn.error(`send: "${to}" is not an "ip:port" destination`);
    let src: Buffer;
    try {
      src = encodeIp(from ?? null);
    } catch {
      throw conn.error(`send: source "${from}" is not an IP address`);
    }
    const r = decodeResult(await conn.request(FrameType.SEND, encodeEndpoint(dst), src, Buffer.from(payload)));
    if (r.status !== ResultStatus.OK) throw conn.error(r.message || `send failed (status ${r.status})`);
  }

  /**
   * handshake makes the device send the peer of this public key (base64) a handshake initiation
   * now, to the peer's current endpoint. Moving a peer's endpoint to a relay needs it: the relay
   * forwards a session only by the indexes of a handshake it carried, and WireGuard alone would
   * not handshake again before its keepalive timeout (15 s). WireGuard sends at most one
   * initiation per peer every 5 s; a request within that time of the last one sends nothing.
   * Rejects for a key the device has no peer for.
   */
  async handshake(peerPublicKey: string): Promise<void> {
    const conn = this.conn!;
    const key = Buffer.from(peerPublicKey, 'base64');
    if (key.length !== 32 || key.toString('base64') !== peerPublicKey) throw conn.error(`handshake: "${peerPublicKey}" is not a base64 WireGuard public key`);
    const r = decodeResult(await conn.request(FrameType.HANDSHAKE, key));
    if (r.status !== ResultStatus.OK) throw conn.error(r.message || `handshake failed (status ${r.status})`);
  }

  /**
   * watch replaces the overlay addresses whose traffic the device reports as `demand` events, at
   * most once per address and direction every intervalMs (10-600000, default 1000); [] stops.
   * Rejects with the device's reason when it refuses the set (the previous set stays).
   */
  async watch(addresses: readonly string[], intervalMs?: number): Promise<void> {
    const conn = this.conn!;
    const body = JSON.stringify(intervalMs === undefined ? { addresses } : { addresses, intervalMs });
    const r = decodeResult(await conn.request(FrameType.WATCH, Buffer.from(body, 'utf8')));
    if (r.status !== ResultStatus.OK) throw conn.error(r.message || `watch failed (status ${r.status})`);
  }

  /** requestInfo asks the device for its current info, counters included. */
  async requestInfo(): Promise<DeviceChannelInfo> {
    this.current = await this.conn!.requestInfo<DeviceChannelInfo>();
    return this.current;
  }

  /** close ends the connection; pending sends reject. */
  close(): void {
    this.conn?.close();
  }

  private onPush(body: Buffer): void {
    if (body[0] === FrameType.DEMAND) {
      const direction = body[1] === 1 ? 'outbound' : body[1] === 2 ? 'inbound' : null;
      if (direction === null) throw new Error(`demand direction ${body[1]}`);
      const { ip } = decodeIp(body, 2);
      if (ip === null) throw new Error('demand without an address');
      this.emit('demand', { direction, address: ip });
      return;
    }
    if (body[0] !== FrameType.DATAGRAM) throw new Error('unexpected frame type');
    const kind = body[1] === DatagramKindCode.stun ? 'stun' : body[1] === DatagramKindCode.disco ? 'disco' : null;
    if (kind === null) throw new Error(`datagram kind ${body[1]}`);
    const from = decodeEndpoint(body, 2);
    if (!from.endpoint) throw new Error('datagram without a source');
    const local = decodeIp(body, from.next);
    this.emit('datagram', { kind, from: formatUdpEndpoint(from.endpoint), local: local.ip, payload: Buffer.from(body.subarray(local.next)) });
  }
}

