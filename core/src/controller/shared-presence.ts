import { randomBytes } from 'node:crypto';
import type { Logger } from '../log/logger';
import type { DeliveredChange, Store } from '../store/store';
import type { Presence } from './presence';

export interface SharedPresenceOptions {
  store: Store;
  presence: Presence;
  /** The URL this controller serves on and its map epoch, recorded for people (status, logs). */
  url: string;
  epoch: string;
  clock: () => number;
  log: Logger;
  /** Told about every node whose liveness changed because of another controller. */
  nodeChanged(nodeId: string, reason: string): void;
  /** How often this controller refreshes its heartbeat and looks for lapsed ones, ms. Default 2000. */
  heartbeatMs?: number;
  /** A controller whose heartbeat is older than this is removed with its streams, ms. Default 3 × heartbeatMs + 1000. */
  lapseMs?: number;
}

/**
 * SharedPresence makes a node's liveness agree across the controllers sharing one store: this
 * controller records itself (with a heartbeat) and every node stream it opens or closes; streams
 * other controllers hold reach Presence through the change feed (presence, controller-gone) or a
 * fresh read (start, resync). A controller that died without saying so is removed once its
 * heartbeat lapses, which takes the nodes only it held offline in every map. A node that failed
 * over is held by the next controller before the dead one lapses, so its peers never see it flap.
 */
export class SharedPresence {
  /** This controller's id in the store's controllers table. */
  readonly id = `ctl-${randomBytes(6).toString('hex')}`;
  private readonly startedAt: number;
  private readonly heartbeatMs: number;
  private readonly lapseMs: number;
  private timer: NodeJS.Timeout | null = null;
  /** Stream writes in the order they happened, so an offline never overtakes its online. */
  private writes: Promise<void> = Promise.resolve();
  private beating: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly o: SharedPresenceOptions) {
    this.startedAt = o.clock();
    this.heartbeatMs = o.heartbeatMs ?? 2_000;
    this.lapseMs = o.lapseMs ?? 3 * this.heartbeatMs + 1_000;
  }

  /** start records this controller, reads the streams the others hold, and begins to write its own. */
  async start(): Promise<void> {
    await this.heartbeat();
    await this.reload('startup');
    this.o.presence.watchLocal((nodeId, online) => this.record(nodeId, online));
    for (const nodeId of this.o.presence.localNodes()) this.record(nodeId, true);
    this.timer = setInterval(() => void this.beat(), this.heartbeatMs);
    this.timer.unref();
  }

  /** Controllers with a live heartbeat (this one included), and where the nodes' streams are. */
  async stats(): Promise<{ controllers: number; streamsHere: number; streamsElsewhere: number }> {
    const now = this.o.clock();
    const live = (await this.o.store.listControllers()).filter((c) => c.id === this.id || now - c.heartbeatAt <= this.lapseMs).length;
    const here = new Set(this.o.presence.localNodes());
    const elsewhere = new Set((await this.o.store.listNodeStreams()).filter((s) => s.controllerId !== this.id && !here.has(s.nodeId)).map((s) => s.nodeId));
    return { controllers: live, streamsHere: here.size, streamsElsewhere: elsewhere.size };
  }

  /** announce records the URL this controller serves on, once it listens. */
  announce(url: string): Promise<void> {
    this.o.url = url;
    return this.heartbeat();
  }

  /** change handles a presence change another controller announced. */
  change(c: DeliveredChange): void {
    if (c.kind === 'presence') {
      if (c.controllerId === this.id) return;
      if (this.o.presence.setRemote(c.nodeId, c.controllerId, c.online, c.at)) this.o.nodeChanged(c.nodeId, `${c.online ? 'online' : 'offline'} at another controller`);
    } else if (c.kind === 'controller-gone') {
      if (c.controllerId === this.id) {
        // Another controller took us for dead (a long pause): record ourselves and our streams again.
        void this.rejoin();
        return;
      }
      for (const nodeId of this.o.presence.dropController(c.controllerId, this.o.clock())) this.o.nodeChanged(nodeId, 'its controller is gone');
    }
  }

  /** reload reads every other controller's streams afresh (start, and after the feed lost changes). */
  async reload(reason: string): Promise<void> {
    const streams = (await this.o.store.listNodeStreams()).filter((s) => s.controllerId !== this.id);
    for (const nodeId of this.o.presence.resetRemote(streams, this.o.clock())) this.o.nodeChanged(nodeId, `presence ${reason}`);
  }

  /** resync: the feed may have missed changes; read the others' streams and write ours again. */
  async resync(reason: string): Promise<void> {
    await this.reload(reason);
    await this.rejoin();
  }

  private record(nodeId: string, online: boolean): void {
    if (this.closed) return;
    const at = this.o.clock();
    this.writes = this.writes
      .then(() => this.o.store.setNodeStream(nodeId, this.id, online, at))
      .catch((err: unknown) => this.o.log.error({ err, nodeId, online }, 'could not record a node stream in the store; other controllers may show the node wrongly until the next resync'));
  }

  private async rejoin(): Promise<void> {
    await this.heartbeat().catch((err: unknown) => this.o.log.error({ err }, 'controller heartbeat failed'));
    for (const nodeId of this.o.presence.localNodes()) this.record(nodeId, true);
  }

  private heartbeat(): Promise<void> {
    return this.o.store.heartbeatController({ id: this.id, url: this.o.url, epoch: this.o.epoch, startedAt: this.startedAt }, this.o.clock());
  }

  private beat(): Promise<void> {
    return (this.beating ??= (async () => {
      try {
        await this.heartbeat();
        await this.reap();
      } catch (err) {
        this.o.log.warn({ err }, 'controller heartbeat failed; retrying');
      } finally {
        this.beating = null;
      }
    })());
  }

  /** reap removes controllers whose heartbeat lapsed, and their streams. */
  private async reap(): Promise<void> {
    const now = this.o.clock();
    for (const c of await this.o.store.listControllers()) {
      if (c.id === this.id || now - c.heartbeatAt <= this.lapseMs) continue;
      const nodes = await this.o.store.removeController(c.id);
      this.o.log.warn({ controller: c.id, url: c.url, lastHeartbeat: c.heartbeatAt, nodes: nodes.length }, 'a controller sharing the store stopped answering; its node streams are gone');
      for (const nodeId of this.o.presence.dropController(c.id, now)) this.o.nodeChanged(nodeId, 'its controller is gone');
    }
  }

  /** close stops the heartbeat and removes this controller and its streams from the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.o.presence.watchLocal(null);
    await this.beating;
    await this.writes;
    await this.o.store.removeController(this.id).catch((err: unknown) => this.o.log.warn({ err }, 'could not remove this controller from the store'));
  }
}
