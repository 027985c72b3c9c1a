/**
 * Rotation leases shared between controllers: until when a node may be between two WireGuard keys.
 * Two peers must not switch keys at once (each would drop the packets staged for the other), and
 * with several controllers on one store the peers may be connected to different controllers, so
 * the lease is decided in the store, atomically, not in one controller's memory.
 */

/** What takeRotationLease decided: the lease, or until when a peer's lease runs. */
export type RotationLeaseOutcome = { granted: true; until: number } | { granted: false; busyUntil: number };

export interface RotationLeaseRepository {
  /**
   * takeRotationLease grants nodeId a lease until `until` unless one of peerIds holds a lease past
   * `now`; the check and the grant are one atomic step across every controller sharing the store.
   * Lapsed leases are forgotten.
   */
  takeRotationLease(nodeId: string, peerIds: readonly string[], now: number, until: number): Promise<RotationLeaseOutcome>;
  /** holdRotationLease sets the node's lease to `until` (after it registered its key: time for peers to apply it). */
  holdRotationLease(nodeId: string, until: number): Promise<void>;
}
