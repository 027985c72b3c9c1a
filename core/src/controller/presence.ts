/** PresenceState is what maps say about a node's liveness; it changes only on online/offline transitions. */
export interface PresenceState {
  online: boolean;
  lastSeen: number | null;
}

/** Told when this controller starts (online) or stops holding any stream of a node. */
export type LocalStreamListener = (nodeId: string, online: boolean, at: number) => void;

/**
 * Presence tracks which nodes hold an open map stream (online) and when each node was last heard
 * from. A node is online while this controller holds a stream of it, or another controller sharing
 * the store does (setRemote, fed by SharedPresence). lastSeen as published in maps moves only on
 * transitions, so a heartbeat never forces a map rebuild; shouldPersist throttles lastSeen writes
 * to the store.
 */
export class Presence {
  private readonly streams = new Map<string, number>();
  /** Other controllers holding a stream of the node, by node id. */
  private readonly remote = new Map<string, Set<string>>();
  private readonly transitionAt = new Map<string, number>();
  private readonly seen = new Map<string, number>();
  private readonly persisted = new Map<string, number>();
  private localListener: LocalStreamListener | null = null;

  constructor(private readonly persistEveryMs = 30_000) {}

  /** watchLocal registers the one listener told about this controller's own stream transitions. */
  watchLocal(listener: LocalStreamListener | null): void {
    this.localListener = listener;
  }

  /** localNodes lists the nodes this controller holds a stream of. */
  localNodes(): string[] {
    return [...this.streams.keys()];
  }

  /** connect counts a new stream; true when the node just came online. */
  connect(nodeId: string, now: number): boolean {
    const wasOnline = this.isOnline(nodeId);
    const n = (this.streams.get(nodeId) ?? 0) + 1;
    this.streams.set(nodeId, n);
    this.noteSeen(nodeId, now);
    if (n === 1) this.localListener?.(nodeId, true, now);
    if (wasOnline) return false;
    this.transitionAt.set(nodeId, now);
    return true;
  }

  /** disconnect drops a stream; true when the node just went offline. */
  disconnect(nodeId: string, now: number): boolean {
    const n = (this.streams.get(nodeId) ?? 0) - 1;
    if (n > 0) {
      this.streams.set(nodeId, n);
      return false;
    }
    if (!this.streams.has(nodeId)) return false;
    this.streams.delete(nodeId);
    this.noteSeen(nodeId, now);
    this.localListener?.(nodeId, false, now);
    if (this.isOnline(nodeId)) return false;
    this.transitionAt.set(nodeId, now);
    return true;
  }

  /**
   * setRemote records that another controller holds (online) or no longer holds a stream of the
   * node; true when the node's liveness changed.
   */
  setRemote(nodeId: string, controllerId: string, online: boolean, at: number): boolean {
    const wasOnline = this.isOnline(nodeId);
    let set = this.remote.get(nodeId);
    if (online) {
      if (!set) this.remote.set(nodeId, (set = new Set()));
      set.add(controllerId);
      this.noteSeen(nodeId, at);
    } else if (set) {
      set.delete(controllerId);
      if (set.size === 0) this.remote.delete(nodeId);
    }
    return this.transitioned(nodeId, wasOnline, at);
  }

  /** dropController forgets every stream another controller held; returns the nodes that went offline. */
  dropController(controllerId: string, at: number): string[] {
    const offline: string[] = [];
    for (const [nodeId, set] of [...this.remote]) {
      if (!set.has(controllerId)) continue;
      if (this.setRemote(nodeId, controllerId, false, at)) offline.push(nodeId);
    }
    return offline;
  }

  /**
   * resetRemote replaces every other controller's streams with `streams` (read afresh from the
   * store); returns the nodes whose liveness changed.
   */
  resetRemote(streams: ReadonlyArray<{ nodeId: string; controllerId: string }>, at: number): string[] {
    const before = new Map<string, boolean>();
    const touched = new Set<string>([...this.remote.keys(), ...streams.map((s) => s.nodeId)]);
    for (const id of touched) before.set(id, this.isOnline(id));
    this.remote.clear();
    for (const s of streams) {
      let set = this.remote.get(s.nodeId);
      if (!set) this.remote.set(s.nodeId, (set = new Set()));
      set.add(s.controllerId);
    }
    const changed: string[] = [];
    for (const id of touched) if (this.transitioned(id, before.get(id)!, at)) changed.push(id);
    return changed;
  }

  private transitioned(nodeId: string, wasOnline: boolean, at: number): boolean {
    if (this.isOnline(nodeId) === wasOnline) return false;
    this.transitionAt.set(nodeId, at);
    return true;
  }

  isOnline(nodeId: string): boolean {
    return (this.streams.get(nodeId) ?? 0) > 0 || (this.remote.get(nodeId)?.size ?? 0) > 0;
  }

  /** noteSeen records that the node was heard from. */
  noteSeen(nodeId: string, now: number): void {
    if ((this.seen.get(nodeId) ?? 0) < now) this.seen.set(nodeId, now);
  }

  /** lastSeen is the latest time the node was heard from, falling back to the stored value. */
  lastSeen(nodeId: string, stored: number | null): number | null {
    const mem = this.seen.get(nodeId);
    if (mem === undefined) return stored;
    return stored === null ? mem : Math.max(mem, stored);
  }

  /** shouldPersist says whether lastSeen is due to be written to the store now (and marks it written). */
  shouldPersist(nodeId: string, now: number): boolean {
    const last = this.persisted.get(nodeId);
    if (last !== undefined && now - last < this.persistEveryMs) return false;
    this.persisted.set(nodeId, now);
    return true;
  }

  /** state is the map-facing view: online, and lastSeen as of the last transition (or the stored value). */
  state(nodeId: string, stored: number | null): PresenceState {
    return { online: this.isOnline(nodeId), lastSeen: this.transitionAt.get(nodeId) ?? stored };
  }

  /** forget drops the node's streams here and elsewhere (revoked, replaced). */
  forget(nodeId: string): void {
    if (this.streams.delete(nodeId)) this.localListener?.(nodeId, false, Date.now());
    this.remote.delete(nodeId);
    this.transitionAt.delete(nodeId);
  }
}
