import { randomBytes } from 'node:crypto';
import type { Logger } from '../log/logger';
import type { DeltaMapResponse, MapResponse, NetworkMapData } from '../netmap/types';
import { diffMaps } from '../netmap/delta';
import type { Store } from '../store/store';
import { composeDeltas } from './delta-history';
import { isLiveNode, type MapBuilder } from './map-builder';
import type { Presence } from './presence';

/** MapSink is one open map stream of a node. */
export interface MapSink {
  send(res: MapResponse): void;
  ping(): void;
  close(): void;
}

interface NodeMapState {
  map: NetworkMapData;
  /** Recent deltas, oldest first, the last one ending at map.version. */
  history: DeltaMapResponse[];
}

export interface MapStreamerOptions {
  store: Store;
  builder: MapBuilder;
  presence: Presence;
  log: Logger;
  clock: () => number;
  /** How long changes are collected before one rebuild, ms. */
  batchWindowMs: number;
  /** Deltas kept per node for reconnects with ?since=. Default 32. */
  historyLimit?: number;
  /** Interval of `event: ping` on open streams, ms. Default 15000. */
  pingIntervalMs?: number;
}

export interface MapStreamerStats {
  rebuilds: number;
  nodes: number;
  streams: number;
  epoch: string;
}

const MAX_TIMER_MS = 2 ** 31 - 1;
/** A burst of changes is collected for at most this many batch windows before maps are rebuilt. */
const BURST_WINDOWS = 4;

/**
 * MapStreamer keeps every live node's current NetworkMap and version, rebuilds them in batches
 * (changes mark the state dirty; the rebuild runs once no change came for one batch window, or at
 * the latest after BURST_WINDOWS windows of a continuing burst), and pushes each node's delta to
 * its open streams. Versions are per node, start at 1 and move only when the map changed; the epoch
 * is random per controller process, so a node that reconnects to a restarted controller gets a full map.
 */
export class MapStreamer {
  readonly epoch = randomBytes(8).toString('base64url');
  private rebuilds = 0;
  private readonly states = new Map<string, NodeMapState>();
  /** Last version of nodes that left the mesh, so a comeback never reuses a version number. */
  private readonly retiredVersions = new Map<string, number>();
  private readonly sinks = new Map<string, Set<MapSink>>();
  private dirty = false;
  private timer: NodeJS.Timeout | null = null;
  private batchStarted = 0;
  private running: Promise<void> | null = null;
  private waiters: Array<() => void> = [];
  private expiryTimer: NodeJS.Timeout | null = null;
  private readonly pingTimer: NodeJS.Timeout;
  private closed = false;
  private readonly historyLimit: number;

  constructor(private readonly opts: MapStreamerOptions) {
    this.historyLimit = opts.historyLimit ?? 32;
    this.pingTimer = setInterval(() => this.pingAll(), opts.pingIntervalMs ?? 15_000);
    this.pingTimer.unref();
  }

  stats(): MapStreamerStats {
    let streams = 0;
    for (const s of this.sinks.values()) streams += s.size;
    return { rebuilds: this.rebuilds, nodes: this.states.size, streams, epoch: this.epoch };
  }

  /** markDirty schedules a rebuild at the end of the current batch window. */
  markDirty(reason: string): void {
    if (this.closed) return;
    this.dirty = true;
    this.opts.log.debug({ reason }, 'maps marked dirty');
    if (this.running) return;
    const now = Date.now();
    if (!this.timer) {
      this.batchStarted = now;
      this.schedule(this.opts.batchWindowMs);
      return;
    }
    // Debounce inside a burst, but never hold a batch longer than BURST_WINDOWS windows.
    const deadline = this.batchStarted + this.opts.batchWindowMs * BURST_WINDOWS;
    clearTimeout(this.timer);
    this.schedule(Math.max(0, Math.min(this.opts.batchWindowMs, deadline - now)));
  }

  /** refresh resolves once a rebuild that started after this call has finished. */
  refresh(reason = 'refresh'): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.markDirty(reason);
    });
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => void this.run(), delayMs);
  }

  private async run(): Promise<void> {
    this.timer = null;
    this.dirty = false;
    const waiters = this.waiters;
    this.waiters = [];
    this.running = this.rebuild().catch((err: unknown) => this.opts.log.error({ err }, 'map rebuild failed'));
    await this.running;
    this.running = null;
    for (const w of waiters) w();
    if (this.dirty && !this.closed) {
      this.batchStarted = Date.now();
      this.schedule(this.opts.batchWindowMs);
    }
  }

  private async rebuild(): Promise<void> {
    this.rebuilds++;
    const now = this.opts.clock();
    const nodes = await this.opts.store.listNodes();
    const userGroups = await this.opts.store.userGroups();
    const maps = await this.opts.builder.build({
      nodes,
      userGroups,
      presence: (n) => this.opts.presence.state(n.id, n.lastSeen),
      overlay: this.opts.store.overlay,
      epoch: this.epoch,
      now,
    });
    if (this.closed) return;
    for (const [nodeId, candidate] of maps) {
      const state = this.states.get(nodeId);
      if (!state) {
        const version = (this.retiredVersions.get(nodeId) ?? 0) + 1;
        this.retiredVersions.delete(nodeId);
        this.states.set(nodeId, { map: { ...candidate, version }, history: [] });
        continue;
      }
      const next = { ...candidate, version: state.map.version + 1 };
      const delta = diffMaps(state.map, next);
      if (!delta) continue;
      state.map = next;
      state.history.push(delta);
      if (state.history.length > this.historyLimit) state.history.shift();
      for (const sink of this.sinks.get(nodeId) ?? []) sink.send(delta);
    }
    for (const [nodeId, state] of this.states) {
      if (maps.has(nodeId)) continue;
      this.states.delete(nodeId);
      this.retiredVersions.set(nodeId, state.map.version);
      this.closeStreams(nodeId);
    }
    this.scheduleExpiry(nodes.filter((n) => isLiveNode(n, now)).map((n) => n.expiresAt), now);
  }

  /** A node whose key expires leaves every map at that moment. */
  private scheduleExpiry(expiries: Array<number | null>, now: number): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    const next = Math.min(...expiries.filter((e): e is number => e !== null));
    if (!Number.isFinite(next)) return;
    this.expiryTimer = setTimeout(() => this.markDirty('node key expiry'), Math.min(MAX_TIMER_MS, Math.max(0, next - now) + 5));
    this.expiryTimer.unref();
  }

  /** currentMap is the node's map as last built, or null if it is not in the mesh. */
  currentMap(nodeId: string): NetworkMapData | null {
    return this.states.get(nodeId)?.map ?? null;
  }

  /**
   * initialResponse is what a (re)connecting node gets first: a delta from `since` when that version
   * of this epoch is still in the history (an empty delta when it is current), else the full map.
   */
  initialResponse(nodeId: string, since: number | null, epoch: string | null): MapResponse | null {
    const state = this.states.get(nodeId);
    if (!state) return null;
    const current = state.map;
    if (since !== null && epoch === this.epoch) {
      if (since === current.version) {
        return { kind: 'delta', epoch: this.epoch, baseVersion: since, version: since, peersUpserted: [], peersRemoved: [] };
      }
      const from = state.history.findIndex((d) => d.baseVersion === since);
      if (from >= 0) return composeDeltas(state.history.slice(from));
    }
    return { kind: 'full', map: current };
  }

  /** attach registers an open stream; the returned function detaches it. */
  attach(nodeId: string, sink: MapSink): () => void {
    let set = this.sinks.get(nodeId);
    if (!set) this.sinks.set(nodeId, (set = new Set()));
    set.add(sink);
    return () => {
      const s = this.sinks.get(nodeId);
      if (!s) return;
      s.delete(sink);
      if (s.size === 0) this.sinks.delete(nodeId);
    };
  }

  /** closeStreams ends every open stream of a node (revoked, expired, shutting down). */
  closeStreams(nodeId: string): void {
    const set = this.sinks.get(nodeId);
    if (!set) return;
    this.sinks.delete(nodeId);
    for (const sink of set) sink.close();
  }

  private pingAll(): void {
    for (const set of this.sinks.values()) for (const sink of set) sink.ping();
  }

  /** close stops timers, waits for a running rebuild and ends every stream. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    clearInterval(this.pingTimer);
    this.timer = null;
    if (this.running) await this.running;
    for (const w of this.waiters.splice(0)) w();
    for (const nodeId of [...this.sinks.keys()]) this.closeStreams(nodeId);
  }
}
