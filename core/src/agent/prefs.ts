/**
 * Prefs is the local user's intent, as opposed to the NetworkMap (the controller's view).
 * Kept deliberately small; each field changes how a map becomes device state.
 */
export interface Prefs {
  /** Route subnets that peers advertise (map.routes) through the tunnel. Default true. */
  acceptRoutes: boolean;
  /** MTU of the WireGuard interface. Default 1420. */
  mtu: number;
  /** The exit node (by name) all other traffic goes through (`--exit-node`); null: none. */
  exitNode?: string | null;
  /** The exit node to use while exitNode is offline (`--exit-node-fallback`). */
  exitNodeFallback?: string | null;
  /** CIDRs that never enter the tunnel: not through the exit node, and no accepted subnet inside them (`--exit-exclude`, `--route-exclude`). */
  exclude?: string[];
  /** When set, only the accepted subnets inside these CIDRs enter the tunnel (`--route-include`); exclude still wins. */
  include?: string[];
}

export const DEFAULT_PREFS: Prefs = { acceptRoutes: true, mtu: 1420 };

/** The firewall mark of the device's own UDP while an exit node is in use (as wg-quick: 51820). */
export const EXIT_FWMARK = 51820;

/** resolvePrefs fills defaults and rejects values the device could not use. */
export function resolvePrefs(partial: Partial<Prefs> = {}): Prefs {
  const prefs: Prefs = { ...DEFAULT_PREFS, ...partial };
  if (!Number.isInteger(prefs.mtu) || prefs.mtu < 1280 || prefs.mtu > 9000) {
    throw new RangeError(`prefs.mtu ${prefs.mtu} is out of range; use an integer between 1280 and 9000`);
  }
  return prefs;
}
