/**
 * RelayControl is the relay node's agent's end of `trellis-wg relay`'s control socket
 * (PROTOCOL.md, "Relay"): it sets the relay's WireGuard private key (from which the relay
 * derives each node's disco key) and its allow-list of node pairs, and reads the relay's state:
 * the nodes it has addresses for, its index table size and its counters.
 *
 *   const relay = await RelayControl.connect(relayControlSocketPath(3479));
 *   await relay.configure({ privateKey, mesh: [pubA, pubB, pubC] });   // all or nothing
 *   (await relay.info()).counters.drops.notAllowed;
 */
import { ControlConnection, type ControlConnectionOptions } from './control-connection';
import { FrameType, ResultStatus, decodeResult } from './control-frame';
import { errors } from '../errors';

/** A relay's configuration; absent fields keep what is set. */
export interface RelayConfig {
  /** The relay node's WireGuard private key (base64). Never logged by either side. */
  privateKey?: string;
  /** The relay's mesh: every pair of these public keys may use it (the nodes of the relay node's map). */
  mesh?: string[];
  /** Single pairs besides the mesh: the relay forwards between the two public keys of a pair. */
  pairs?: Array<[string, string]>;
  /** How long a node's address stays known after its last accepted ping (1 s - 1 h; default 60 s). */
  nodeTtlMs?: number;
}

/** Why the relay dropped datagrams, counted (PROTOCOL.md lists each reason). */
export type RelayDropReason =
  | 'malformed'
  | 'unknownSource'
  | 'senderMismatch'
  | 'notAllowed'
  | 'unknownDestination'
  | 'noAddress'
  | 'unknownIndex'
  | 'badMac'
  | 'stale'
  | 'unknownNode'
  | 'unexpectedType'
  | 'noKey'
  | 'tableFull';

export interface RelayNodeInfo {
  publicKey: string;
  /** Where its last accepted ping came from ("ip:port"); "" when none or expired. */
  address: string;
  /** -1 when it never pinged. */
  lastPingMsAgo: number;
}

export interface RelayInfo {
  protocol: number;
  implementation: string;
  version: string;
  port: number;
  /** The relay's public key, "" until its private key is set. */
  publicKey: string;
  /** Node pairs it may serve: the mesh's and the listed ones. */
  pairs: number;
  meshNodes: number;
  /** Receiver-index routes learned from forwarded handshakes. */
  routes: number;
  nodeTtlMs: number;
  nodes: RelayNodeInfo[];
  counters: { forwardedPackets: number; forwardedBytes: number; pingsAccepted: number; drops: Record<RelayDropReason, number> };
  writeErrors: number;
}

export class RelayControl {
  private constructor(private readonly conn: ControlConnection) {}

  /** connect opens the relay's control socket and resolves after its hello. */
  static async connect(socketPath: string, opts: ControlConnectionOptions = {}): Promise<RelayControl> {
    return new RelayControl(await ControlConnection.open(socketPath, { info: () => undefined, closed: () => undefined }, opts));
  }

  get socketPath(): string {
    return this.conn.socketPath;
  }

  /**
   * configure applies a configuration as a whole or not at all. A refused one (a bad key, a pair
   * naming one key twice or the relay's own key) rejects with TRELLIS_ERR_RELAY_CONFIG naming
   * what is wrong, and the relay keeps what it had.
   */
  async configure(config: RelayConfig): Promise<void> {
    const r = decodeResult(await this.conn.request(FrameType.RELAY_CONFIG, Buffer.from(JSON.stringify(config))));
    if (r.status !== ResultStatus.OK) throw errors.relayConfig(this.socketPath, r.message);
  }

  /** info reads the relay's state now. */
  info(): Promise<RelayInfo> {
    return this.conn.requestInfo<RelayInfo>();
  }

  close(): void {
    this.conn.close();
  }
}
