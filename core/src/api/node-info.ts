/** What the controller knows about a node, as decider and extension plugins see it. */

/** A decision about a device's compliance; reasons are human readable. */
export interface PostureDecision {
  compliant: boolean;
  reasons: string[];
  policyVersion?: string;
}

/** NodeInfo: one live node when maps are built (decideAccess, mapExtension). Read-only. */
export interface NodeInfo {
  id: string;
  name: string;
  user: string | null;
  /** Groups of the owning user. */
  groups: readonly string[];
  tags: readonly string[];
  addresses: { ipv4: string; ipv6: string };
  /** The controller's last posture decision; null before the first report. */
  posture: PostureDecision | null;
  /** False while the node waits for admin approval (it then gets no peers, and no decider sees it). */
  approved: boolean;
  /**
   * The approved routes the node serves as a gateway (subnets, and 0.0.0.0/0 and ::/0 for an exit
   * node), sorted; every gateway of an HA prefix lists it, primary or not. Access policies reach a
   * gateway at these addresses (Rego: a node's `subnets`). Absent on cores from before routes.
   */
  subnets?: readonly string[];
}
