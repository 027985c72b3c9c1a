/**
 * Prefs is the local user's intent, as opposed to the NetworkMap (the controller's view).
 * Kept deliberately small; each field changes how a map becomes device state.
 */
export interface Prefs {
  /** Route subnets that peers advertise (map.routes) through the tunnel. Default true. */
  acceptRoutes: boolean;
  /** MTU of the WireGuard interface. Default 1420. */
  mtu: number;
}

export const DEFAULT_PREFS: Prefs = { acceptRoutes: true, mtu: 1420 };

/** resolvePrefs fills defaults and rejects values the device could not use. */
export function resolvePrefs(partial: Partial<Prefs> = {}): Prefs {
  const prefs: Prefs = { ...DEFAULT_PREFS, ...partial };
  if (!Number.isInteger(prefs.mtu) || prefs.mtu < 1280 || prefs.mtu > 9000) {
    throw new RangeError(`prefs.mtu ${prefs.mtu} is out of range; use an integer between 1280 and 9000`);
  }
  return prefs;
}
