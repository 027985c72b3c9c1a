/**
 * NodeRelay runs a relay node's forwarder: when the node's own map entry offers a relay
 * (`trellis up --relay [--relay-port]`), it keeps `trellis-wg relay` running on that port and
 * configured with the node's WireGuard private key (from which the relay derives each node's disco
 * key) and its allow-list; when the offer goes, so does the relay.
 *
 * The allow-list (the relay's mesh): the relay serves a pair of nodes when both are in its map, i.e. when the access
 * policy lets both reach the relay node. Whether the two may reach each other is enforced end to
 * end by their own WireGuard peers (a node that is not the other's peer cannot complete a
 * handshake through the relay), so the relay never widens access. Relayed datagrams never enter
 * the relay node's overlay: it forwards ciphertext between its UDP port and the nodes.
 */
import type { Logger } from 'pino';
import type { NetworkMap } from '../netmap/types';
import type { RelayConfig, RelayInfo } from '../wg/relay-control';
import { RelayProcess, type RelayProcessOptions } from '../wg/relay-process';

/** What NodeRelay needs of a running relay (RelayProcess; a fake in unit tests). */
export interface RunningRelay {
  readonly running: boolean;
  readonly control: { configure(c: RelayConfig): Promise<void>; info(): Promise<RelayInfo> };
  stop(): Promise<void>;
}

export interface NodeRelayOptions {
  /** The relay's control socket (nodeRelayControlSocketPath(iface)). */
  controlSocket: string;
  log: Logger;
  /** Why the relay cannot run here (no trellis-wg), or null when it can. */
  unavailable: () => string | null;
  /** Starts the relay; default RelayProcess.start. */
  start?: (opts: RelayProcessOptions) => Promise<RunningRelay>;
}

/** The relay as `trellis status` and the metrics see it. */
export interface NodeRelayStatus {
  /** The port offered in the node's map; null when the node is no relay. */
  port: number | null;
  running: boolean;
  /** Node pairs it may serve (n nodes in its mesh: n(n-1)/2). */
  pairs: number;
  /** Why it is not running although offered (no trellis-wg, a failed start); null otherwise. */
  error: string | null;
}

/** relayMesh is the relay's mesh: the WireGuard keys of the map's peers, sorted, never the relay's own. */
export function relayMesh(map: NetworkMap): string[] {
  return [...new Set(map.peers.filter((p) => p.id !== map.self.id && p.wgKey !== map.self.wgKey).map((p) => p.wgKey))].sort();
}

export class NodeRelay {
  private relay: RunningRelay | null = null;
  private port: number | null = null;
  private configured: { privateKey: string; meshKey: string; pairs: number } | null = null;
  private error: string | null = null;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly opts: NodeRelayOptions) {}

  /** sync makes the relay match the map and key; serialized, never throws (failures are logged and shown in status). */
  sync(map: NetworkMap, privateKey: string): Promise<void> {
    const job = this.queue.then(() => this.apply(map.self.relay?.port ?? null, map, privateKey));
    this.queue = job.catch(() => undefined);
    return job;
  }

  /** stop ends the relay, if it runs. */
  stop(): Promise<void> {
    const job = this.queue.then(() => this.halt());
    this.queue = job.catch(() => undefined);
    return job;
  }

  status(): NodeRelayStatus {
    return { port: this.port, running: this.relay?.running ?? false, pairs: this.configured?.pairs ?? 0, error: this.error };
  }

  /** info reads the running relay's counters and nodes; null when none runs. */
  async info(): Promise<RelayInfo | null> {
    if (!this.relay?.running) return null;
    try {
      return await this.relay.control.info();
    } catch {
      return null;
    }
  }

  private async apply(port: number | null, map: NetworkMap, privateKey: string): Promise<void> {
    const { log } = this.opts;
    if (port === null) {
      this.port = null;
      this.error = null;
      await this.halt();
      return;
    }
    if (this.relay && (this.port !== port || !this.relay.running)) await this.halt();
    this.port = port;
    if (!this.relay) {
      const why = this.opts.unavailable();
      if (why !== null) {
        if (this.error !== why) log.warn({ port }, `this node offers a relay, but ${why}`);
        this.error = why;
        return;
      }
      try {
        this.relay = await (this.opts.start ?? RelayProcess.start)({ port, controlSocket: this.opts.controlSocket, log });
        this.configured = null;
      } catch (err) {
        this.error = (err as Error).message;
        log.error({ port, err: this.error }, 'the relay did not start');
        return;
      }
    }
    const mesh = relayMesh(map);
    const meshKey = mesh.join(',');
    const pairs = (mesh.length * (mesh.length - 1)) / 2;
    if (this.configured && this.configured.privateKey === privateKey && this.configured.meshKey === meshKey) return;
    const config: RelayConfig = { mesh };
    if (this.configured?.privateKey !== privateKey) config.privateKey = privateKey;
    try {
      await this.relay.control.configure(config);
      this.configured = { privateKey, meshKey, pairs };
      this.error = null;
      log.info({ port, nodes: mesh.length }, 'relay configured');
    } catch (err) {
      this.error = (err as Error).message;
      log.error({ port, err: this.error }, 'the relay refused its configuration; it keeps the previous one');
    }
  }

  private async halt(): Promise<void> {
    const r = this.relay;
    this.relay = null;
    this.configured = null;
    if (r) await r.stop();
  }
}
