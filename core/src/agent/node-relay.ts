/**
 * NodeRelay runs a relay node's forwarder: when the node's own map entry offers a relay
 * (`trellis up --relay [--relay-port]`), it keeps `trellis-wg relay` running on that port and
 * configured with the node's WireGuard private key (from which the relay derives each node's disco
 * key) and its allow-list; when the offer goes, so does the relay.
 *
 * The allow-list is the controller's: the node's own map lists the pairs it may serve
 * (self.relayPairs: both ends are peers under the access policy and the relay's packet filter
 * accepts both on the relay port; controller/relay-plan.ts). A pair of them that is always allowed
 * together goes to the forwarder as its mesh, every other pair by name. A map from a controller
 * before the relay policy has no pairs: then the relay serves every pair of nodes in its map, and
 * whether the two may reach each other is left to their own WireGuard peers. Relayed datagrams
 * never enter the relay node's overlay: it forwards ciphertext between its UDP port and the nodes.
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

/** The forwarder's allow-list for a map: a mesh (every pair of these keys) and single pairs, and how many pairs in all. */
export interface RelayAllowList {
  mesh: string[];
  /** Absent for a map without the controller's pairs (the whole map is the mesh). */
  pairs?: Array<[string, string]>;
  count: number;
}

/**
 * relayAllowList turns the map's planned pairs (self.relayPairs) into the forwarder's allow-list:
 * the largest group whose members may all pair up is the mesh, every other allowed pair is named.
 * Without a plan (an older controller) every pair of the map's nodes is allowed, as before.
 */
export function relayAllowList(map: NetworkMap): RelayAllowList {
  const plan = map.self.relayPairs;
  if (!plan) {
    const mesh = relayMesh(map);
    return { mesh, count: (mesh.length * (mesh.length - 1)) / 2 };
  }
  const keyOf = new Map(map.peers.filter((p) => p.id !== map.self.id && p.wgKey !== map.self.wgKey).map((p) => [p.id, p.wgKey]));
  const groups = plan.groups.map((g) => [...new Set(g.map((id) => keyOf.get(id)).filter((k): k is string => k !== undefined))].sort());
  let meshAt = -1;
  for (const [i, j] of plan.links) if (i === j && groups[i] && (meshAt < 0 || groups[i]!.length > groups[meshAt]!.length)) meshAt = i;
  const pairs: Array<[string, string]> = [];
  const seen = new Set<string>();
  const add = (a: string, b: string) => {
    if (a === b) return;
    const [x, y] = a < b ? [a, b] : [b, a];
    const k = `${x} ${y}`;
    if (seen.has(k)) return;
    seen.add(k);
    pairs.push([x, y]);
  };
  let count = 0;
  for (const [i, j] of plan.links) {
    const gi = groups[i];
    const gj = groups[j];
    if (!gi || !gj) continue;
    if (i === j) {
      count += (gi.length * (gi.length - 1)) / 2;
      if (i === meshAt) continue;
      for (let a = 0; a < gi.length; a++) for (let b = a + 1; b < gi.length; b++) add(gi[a]!, gi[b]!);
    } else {
      count += gi.length * gj.length;
      for (const a of gi) for (const b of gj) add(a, b);
    }
  }
  return { mesh: meshAt < 0 ? [] : groups[meshAt]!, pairs, count };
}

export class NodeRelay {
  private relay: RunningRelay | null = null;
  private port: number | null = null;
  private configured: { privateKey: string; meshKey: string; pairs: number; named: boolean } | null = null;
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
    const allow = relayAllowList(map);
    const meshKey = JSON.stringify([allow.mesh, allow.pairs ?? null]);
    const pairs = allow.count;
    if (this.configured && this.configured.privateKey === privateKey && this.configured.meshKey === meshKey) return;
    const config: RelayConfig = { mesh: allow.mesh };
    // Pairs named before and none now (a controller without the relay policy): clear them.
    if (allow.pairs || this.configured?.named) config.pairs = allow.pairs ?? [];
    if (this.configured?.privateKey !== privateKey) config.privateKey = privateKey;
    try {
      await this.relay.control.configure(config);
      this.configured = { privateKey, meshKey, pairs, named: allow.pairs !== undefined && allow.pairs.length > 0 };
      this.error = null;
      log.info({ port, pairs, mesh: allow.mesh.length, named: allow.pairs?.length ?? 0 }, 'relay configured');
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
