import { randomBytes } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from '../log/logger';
import type { DeltaMapResponse, MapResponse, NetworkMapData } from '../netmap/types';
import type { NodeRecord, Store } from '../store/store';
import { composeDeltas } from './delta-history';
import { applyNodeChanges } from './map-changes';
import type { MapBuilder, Mesh } from './map-builder';
import { diffMeshes, type MapChange } from './mesh-diff';
import type { Presence } from './presence';
import { EMPTY_ROUTES } from './map-builder';
import { sameRoutes } from './mesh-diff';
import type { MeshUpdate } from './map-changes';
import { routesForMesh } from './route-plan';
import type { RouteTable } from './route-table';

const NO_PREFIXES: ReadonlySet<string> = new Set();

/** MapSink is one open map stream of a node. */
export interface MapSink {
  /** The stream applies DeltaMapResponse.packetFilterPatch (it asked with MAP_FEATURES_HEADER). */
  readonly filterPatches?: boolean;
  send(res: MapResponse): void;
  ping(): void;
  close(): void;
}

interface NodeVersions {
  version: number;
  /** Recent deltas, oldest first, the last one ending at version. */
  history: DeltaMapResponse[];
}

export interface MapStreamerOptions {
  store: Store;
  builder: MapBuilder;
  presence: Presence;
  log: Logger;
  clock: () => number;
  /** How long changes are collected before they are applied, ms. */
  batchWindowMs: number;
  /** Deltas kept per node for reconnects with ?since=. Default 32. */
  historyLimit?: number;
  /** Interval of `event: ping` on open streams, ms. Default 15000. */
  pingIntervalMs?: number;
  /**
   * A batch of node changes larger than this share of the live nodes (and more than 8 nodes) is
   * applied as a full build. Default 1/8.
   */
  fullBuildShare?: number;
  /** Told how long each batch took to apply, and whether it was a full build. */
  onApplied?: (ms: number, full: boolean) => void;
  /**
   * Told, for each batch that sent anything, how long it took from its start until its last
   * response was handed to the streams' sockets (apply and send), and to how many streams.
   */
  onSent?: (ms: number, streams: number) => void;
  /** The route decisions (subnets of gateways, primaries); absent: maps carry no routes. */
  routes?: RouteTable;
  /**
   * Streams written per event-loop turn when a batch is sent. Node flushes a stream's writes only
   * once the turn ends, so sending 10,000 deltas in one turn makes the first node wait for the
   * last; slices let each slice reach the sockets while the next is serialised. Default 256.
   */
  sendSlice?: number;
}

/** One map response waiting to be written to one open stream. */
interface PendingSend {
  sink: MapSink;
  res: MapResponse;
}

export interface MapStreamerStats {
  /** Batches applied (full builds and incremental changes). */
  rebuilds: number;
  /** Of those, full builds. */
  fullBuilds: number;
  nodes: number;
  streams: number;
  epoch: string;
}

const MAX_TIMER_MS = 2 ** 31 - 1;
/** A burst of changes is collected for at most this many batch windows before it is applied. */
const BURST_WINDOWS = 4;

/**
 * MapStreamer keeps every live node's map version and recent deltas, applies changes in batches
 * (changes are collected until none came for one batch window, or at the latest for BURST_WINDOWS
 * windows of a continuing burst) and pushes each node's delta to its open streams. A batch of
 * node changes (nodeChanged) is applied incrementally (map-changes.ts); anything else
 * (meshChanged: policy, groups, plugins) is a full build diffed against the last (mesh-diff.ts).
 * Versions are per node, start at 1 and move only when the map changed; the epoch is random per
 * controller process, so a node that reconnects to a restarted controller gets a full map.
 */
export class MapStreamer {
  readonly epoch = randomBytes(8).toString('base64url');
  private rebuilds = 0;
  private fullBuilds = 0;
  private mesh: Mesh | null = null;
  private readonly versions = new Map<string, NodeVersions>();
  /** Last version of nodes that left the mesh, so a comeback never reuses a version number. */
  private readonly retiredVersions = new Map<string, number>();
  private readonly sinks = new Map<string, Set<MapSink>>();
  private meshDirty = false;
  /** Only the routes moved (a primary changed): recompute every node's routes, nothing else. */
  private routesDirty = false;
  private readonly changedNodes = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private batchStarted = 0;
  private running: Promise<void> | null = null;
  private waiters: Array<() => void> = [];
  private expiryTimer: NodeJS.Timeout | null = null;
  private readonly pingTimer: NodeJS.Timeout;
  private closed = false;
  private readonly historyLimit: number;
  private readonly sendSlice: number;
  /** Responses of the batch being applied, written after every version moved (sendPending). */
  private pending: PendingSend[] = [];

  constructor(private readonly opts: MapStreamerOptions) {
    this.historyLimit = opts.historyLimit ?? 32;
    this.sendSlice = Math.max(1, Math.floor(opts.sendSlice ?? 256));
    this.pingTimer = setInterval(() => this.pingAll(), opts.pingIntervalMs ?? 15_000);
    this.pingTimer.unref();
  }

  stats(): MapStreamerStats {
    let streams = 0;
    for (const s of this.sinks.values()) streams += s.size;
    return { rebuilds: this.rebuilds, fullBuilds: this.fullBuilds, nodes: this.versions.size, streams, epoch: this.epoch };
  }

  /** nodeChanged: one node changed in the store (enrolled, endpoints, presence, revoked, approved, posture). */
  nodeChanged(nodeId: string, reason: string): void {
    if (this.closed) return;
    this.changedNodes.set(nodeId, reason);
    this.schedule(reason);
  }

  /** meshChanged: something every map may depend on changed (policy, groups, users, plugin state). */
  meshChanged(reason: string): void {
    if (this.closed) return;
    this.meshDirty = true;
    this.schedule(reason);
  }

  /** routesChanged: a route primary moved; every node's routes are recomputed in the next batch. */
  routesChanged(reason: string): void {
    if (this.closed) return;
    this.routesDirty = true;
    this.schedule(reason);
  }

  /** meshInForce: the last built mesh (classes, roles, entries), or null before the first build. */
  meshInForce(): Mesh | null {
    return this.mesh;
  }

  /** nodeInfo: what plugins know of a node in the current mesh; null when it is not in it. */
  nodeInfo(nodeId: string) {
    return this.mesh?.nodes.get(nodeId)?.info ?? null;
  }

  /** refresh rebuilds every map and resolves once a build that started after this call has finished. */
  refresh(reason = 'refresh'): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.meshChanged(reason);
    });
  }

  /** settled resolves once every change noted before this call has been applied. */
  settled(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.meshDirty && !this.routesDirty && this.changedNodes.size === 0) return this.running ?? Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private schedule(reason: string): void {
    this.opts.log.debug({ reason }, 'maps changed');
    if (this.running) return;
    const now = Date.now();
    if (!this.timer) {
      this.batchStarted = now;
      this.setTimer(this.opts.batchWindowMs);
      return;
    }
    // Debounce inside a burst, but never hold a batch longer than BURST_WINDOWS windows.
    const deadline = this.batchStarted + this.opts.batchWindowMs * BURST_WINDOWS;
    clearTimeout(this.timer);
    this.setTimer(Math.max(0, Math.min(this.opts.batchWindowMs, deadline - now)));
  }

  private setTimer(delayMs: number): void {
    this.timer = setTimeout(() => void this.run(), delayMs);
  }

  private async run(): Promise<void> {
    this.timer = null;
    const full = this.meshDirty || this.mesh === null;
    const changed = new Map(this.changedNodes);
    this.meshDirty = false;
    this.routesDirty = false;
    this.changedNodes.clear();
    const waiters = this.waiters;
    this.waiters = [];
    this.running = this.apply(full, changed);
    await this.running;
    this.running = null;
    for (const w of waiters) w();
    if ((this.meshDirty || this.routesDirty || this.changedNodes.size > 0) && !this.closed) {
      this.batchStarted = Date.now();
      this.setTimer(this.opts.batchWindowMs);
    }
  }

  private async apply(full: boolean, changed: Map<string, string>): Promise<void> {
    const started = performance.now();
    const live = this.mesh?.order.length ?? 0;
    const share = this.opts.fullBuildShare ?? 1 / 8;
    let asFull = full || (changed.size > 8 && changed.size > live * share);
    try {
      if (!asFull && !(await this.applyNodeChanges(changed))) asFull = true;
      if (asFull) {
        this.fullBuilds++;
        await this.rebuild(false);
      }
      this.rebuilds++;
      this.opts.onApplied?.(performance.now() - started, asFull);
      const streams = await this.sendPending();
      if (streams > 0) this.opts.onSent?.(performance.now() - started, streams);
    } catch (err) {
      this.opts.log.error({ err, nodes: changed.size, full: asFull }, 'map update failed; the maps in force stay');
      if (this.mesh?.updating) {
        // The mesh no longer says what nodes were sent: build it again and send full maps.
        await this.rebuild(true).catch((e: unknown) => this.opts.log.error({ err: e }, 'map rebuild failed'));
      } else if (!asFull) {
        this.meshDirty = true;
      }
      // Deltas versioned before the failure (and a resync's full maps) still go out, in order.
      await this.sendPending().catch((e: unknown) => this.opts.log.error({ err: e }, 'sending map updates failed'));
    }
  }

  /** applyNodeChanges applies a batch of node changes in place; false when it needs a full build. */
  private async applyNodeChanges(changed: Map<string, string>): Promise<boolean> {
    const mesh = this.mesh!;
    const records = new Map<string, NodeRecord | null>();
    for (const id of changed.keys()) records.set(id, await this.opts.store.getNode(id));
    const update = await applyNodeChanges(mesh, this.opts.builder, {
      records,
      presence: (n) => this.opts.presence.state(n.id, n.lastSeen),
      now: this.opts.clock(),
      subnets: this.subnets(),
    });
    if (!update) return false;
    if (this.closed) return true;
    this.assignRoutes(mesh, update);
    for (const id of update.joined) this.join(id);
    for (const [id, change] of update.changes) this.emit(id, change);
    for (const id of update.left) this.leave(id);
    this.scheduleExpiry(mesh);
    return true;
  }

  /** rebuild makes every map again from the store and sends what changed (resync: full maps to everyone). */
  private async rebuild(resync: boolean): Promise<void> {
    const now = this.opts.clock();
    // Route decisions may come from another controller sharing the store: read them with the nodes.
    await this.opts.routes?.load();
    const nodes = await this.opts.store.listNodes();
    const userGroups = await this.opts.store.userGroups();
    const previous = resync ? null : this.mesh;
    const next = await this.opts.builder.build(
      { nodes, userGroups, presence: (n) => this.opts.presence.state(n.id, n.lastSeen), overlay: this.opts.store.overlay, epoch: this.epoch, now, subnets: this.subnets() },
      previous,
    );
    if (this.closed) return;
    this.assignRoutes(next, null);
    const changes = previous ? diffMeshes(previous, next) : new Map<string, MapChange>();
    this.mesh = next;
    for (const n of next.order) {
      if (!this.versions.has(n.id)) this.join(n.id);
      else if (resync) this.resend(n.id);
      else {
        const change = changes.get(n.id);
        if (change) this.emit(n.id, change);
      }
    }
    for (const id of [...this.versions.keys()]) if (!next.nodes.has(id)) this.leave(id);
    this.scheduleExpiry(next);
  }

  private subnets(): ((nodeId: string) => readonly string[]) | undefined {
    const table = this.opts.routes;
    return table ? (id) => table.subnetsOf(id) : undefined;
  }

  /**
   * assignRoutes gives every node of the mesh its routes (route-plan.ts) and, for an incremental
   * update, adds the nodes whose routes moved to its changes (joined nodes get them in their full map).
   */
  private assignRoutes(mesh: Mesh, update: MeshUpdate | null): void {
    const table = this.opts.routes;
    if (!table && mesh.topology.isFull) return;
    const primaries = table ? table.plan((id) => mesh.nodes.get(id)?.cls !== undefined && mesh.nodes.get(id)!.cls >= 0) : [];
    const per = routesForMesh(mesh, primaries, (id) => table?.advertisedBy(id) ?? NO_PREFIXES);
    const joined = update ? new Set(update.joined) : null;
    for (const n of mesh.order) {
      const routes = per.get(n.id) ?? EMPTY_ROUTES;
      if (sameRoutes(n.routes, routes)) continue;
      n.routes = routes;
      if (!update || joined!.has(n.id)) continue;
      const change = update.changes.get(n.id) ?? { peersUpserted: [], peersRemoved: [] };
      change.routes = routes;
      update.changes.set(n.id, change);
    }
  }

  private join(nodeId: string): void {
    const version = (this.retiredVersions.get(nodeId) ?? 0) + 1;
    this.retiredVersions.delete(nodeId);
    this.versions.set(nodeId, { version, history: [] });
  }

  private leave(nodeId: string): void {
    const v = this.versions.get(nodeId);
    if (!v) return;
    this.versions.delete(nodeId);
    this.retiredVersions.set(nodeId, v.version);
    this.closeStreams(nodeId);
  }

  /**
   * emit versions one node's change and sends it. The history keeps the whole packet filter (a
   * composed delta carries the last one); a stream that takes patches gets the patch instead.
   */
  private emit(nodeId: string, change: MapChange): void {
    const v = this.versions.get(nodeId);
    if (!v) return;
    const { packetFilterPatch, ...rest } = change;
    const delta: DeltaMapResponse = { kind: 'delta', epoch: this.epoch, baseVersion: v.version, version: v.version + 1, ...rest };
    v.version++;
    v.history.push(delta);
    if (v.history.length > this.historyLimit) v.history.shift();
    const sinks = this.sinks.get(nodeId);
    if (!sinks) return;
    let patched: DeltaMapResponse | undefined;
    for (const sink of sinks) {
      if (packetFilterPatch && sink.filterPatches) {
        if (!patched) {
          const { packetFilter: _whole, ...base } = delta;
          patched = { ...base, packetFilterPatch };
        }
        this.pending.push({ sink, res: patched });
      } else this.pending.push({ sink, res: delta });
    }
  }

  /**
   * sendPending writes the batch's responses, sendSlice streams per event-loop turn, so the first
   * slices reach their sockets while later ones are still serialised. Every version and history
   * moved before the first write: a stream that (re)connects meanwhile gets an initial response
   * that already holds the change, and is not in this batch's list. Resolves once the last slice
   * was handed to the sockets, with the number of responses sent.
   */
  private async sendPending(): Promise<number> {
    const batch = this.pending;
    this.pending = [];
    for (let i = 0; i < batch.length; i += this.sendSlice) {
      const end = Math.min(batch.length, i + this.sendSlice);
      for (let j = i; j < end; j++) batch[j]!.sink.send(batch[j]!.res);
      // The writes of this slice are flushed when the turn ends (http corks each response until then).
      await nextTurn();
    }
    return batch.length;
  }

  /** resend gives a node a full map at a new version; deltas from before cannot be composed with it. */
  private resend(nodeId: string): void {
    const v = this.versions.get(nodeId)!;
    v.version++;
    v.history = [];
    const map = this.currentMap(nodeId);
    if (map) for (const sink of this.sinks.get(nodeId) ?? []) this.pending.push({ sink, res: { kind: 'full', map } });
  }

  /** A node whose key expires leaves every map at that moment. */
  private scheduleExpiry(mesh: Mesh): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    let next = Infinity;
    for (const n of mesh.order) if (n.record.expiresAt !== null && n.record.expiresAt < next) next = n.record.expiresAt;
    if (!Number.isFinite(next)) return;
    const now = this.opts.clock();
    this.expiryTimer = setTimeout(() => this.expire(), Math.min(MAX_TIMER_MS, Math.max(0, next - now) + 5));
    this.expiryTimer.unref();
  }

  private expire(): void {
    const mesh = this.mesh;
    if (!mesh) return;
    const now = this.opts.clock();
    let any = false;
    for (const n of mesh.order) {
      if (n.record.expiresAt !== null && n.record.expiresAt <= now) {
        this.nodeChanged(n.id, `key of ${n.record.name} expired`);
        any = true;
      }
    }
    if (!any) this.scheduleExpiry(mesh);
  }

  /** hasMap: the node is in the mesh (without materialising its map). */
  hasMap(nodeId: string): boolean {
    return this.versions.has(nodeId);
  }

  /** currentMap is the node's map as last built, or null if it is not in the mesh. */
  currentMap(nodeId: string): NetworkMapData | null {
    const v = this.versions.get(nodeId);
    const map = v ? this.mesh?.mapOf(nodeId) : null;
    return map ? { ...map, version: v!.version } : null;
  }

  /**
   * initialResponse is what a (re)connecting node gets first: a delta from `since` when that version
   * of this epoch is still in the history (an empty delta when it is current), else the full map.
   */
  initialResponse(nodeId: string, since: number | null, epoch: string | null): MapResponse | null {
    const v = this.versions.get(nodeId);
    if (!v) return null;
    if (since !== null && epoch === this.epoch) {
      if (since === v.version) {
        return { kind: 'delta', epoch: this.epoch, baseVersion: since, version: since, peersUpserted: [], peersRemoved: [] };
      }
      const from = v.history.findIndex((d) => d.baseVersion === since);
      if (from >= 0) return composeDeltas(v.history.slice(from));
    }
    const map = this.currentMap(nodeId);
    return map ? { kind: 'full', map } : null;
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

  /** close stops timers, waits for a running update and ends every stream. */
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
