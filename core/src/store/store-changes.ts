/**
 * Store changes: what a shared store (PostgreSQL) tells every controller using it about writes made
 * through any of them, so each can feed its own map pipeline (node changes applied incrementally,
 * mesh changes rebuilt), follow policy versions, and see which controller holds which node's
 * stream. A store used by one process (SQLite) has no feed.
 */

/** One change, as written by the controller whose store instance is `origin`. */
export type StoreChange =
  /** A node's record changed (enrolled, revoked, endpoints, facts, keys, approval, expiry). */
  | { kind: 'node'; nodeId: string; reason: string }
  /** Something every map may depend on changed (users, groups). */
  | { kind: 'mesh'; reason: string }
  /** The active policy version moved (push, rollback, seed). */
  | { kind: 'policy'; version: string; reason: string }
  /** A controller started or stopped holding a stream of a node. */
  | { kind: 'presence'; nodeId: string; controllerId: string; online: boolean; at: number }
  /** A controller was removed (it stopped, or its heartbeat lapsed); the streams it held are gone. */
  | { kind: 'controller-gone'; controllerId: string };

/** A change as delivered: who made it and when it was sent (unix ms, the sender's clock). */
export type DeliveredChange = StoreChange & { origin: string; sentAt: number };

export interface StoreChangeListener {
  /** A change made through another store instance (its own are never delivered). */
  change(change: DeliveredChange): void;
  /**
   * The feed lost its connection and changes may have been missed; it is listening again. The
   * listener should read everything afresh.
   */
  resync(reason: string): void;
  /** The feed cannot listen (the server is gone); it keeps retrying. */
  lost?(reason: string): void;
}

/** StoreChangeFeed delivers other writers' changes. */
export interface StoreChangeFeed {
  /** The id this store instance tags its own changes with. */
  readonly origin: string;
  /** subscribe starts listening (resolves once LISTEN is in force); the returned function stops. */
  subscribe(listener: StoreChangeListener): Promise<() => Promise<void>>;
}
