/** PresenceState is what maps say about a node's liveness; it changes only on online/offline transitions. */
export interface PresenceState {
  online: boolean;
  lastSeen: number | null;
}

/**
 * Presence tracks which nodes hold an open map stream (online) and when each node was last heard
 * from. lastSeen as published in maps moves only on transitions, so a heartbeat never forces a
 * map rebuild; shouldPersist throttles lastSeen writes to the store.
 */
export class Presence {
  private readonly streams = new Map<string, number>();
  private readonly transitionAt = new Map<string, number>();
  private readonly seen = new Map<string, number>();
  private readonly persisted = new Map<string, number>();

  constructor(private readonly persistEveryMs = 30_000) {}

  /** connect counts a new stream; true when the node just came online. */
  connect(nodeId: string, now: number): boolean {
    const n = (this.streams.get(nodeId) ?? 0) + 1;
    this.streams.set(nodeId, n);
    this.noteSeen(nodeId, now);
    if (n === 1) this.transitionAt.set(nodeId, now);
    return n === 1;
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
    this.transitionAt.set(nodeId, now);
    return true;
  }

  isOnline(nodeId: string): boolean {
    return (this.streams.get(nodeId) ?? 0) > 0;
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

  forget(nodeId: string): void {
    this.streams.delete(nodeId);
    this.transitionAt.delete(nodeId);
  }
}
