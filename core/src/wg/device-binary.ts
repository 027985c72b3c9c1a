/**
 * Which binary serves a userspace WireGuard device: an explicit path, else TRELLIS_WIREGUARD_GO,
 * else trellis-wg (NAT traversal, candidate probes, relays), else the bundled upstream
 * wireguard-go, else PATH's (Debian's). Each step down says why in one line.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { BUNDLED_TRELLIS_WG, WITHOUT_TRELLIS_WG, trellisWgUnavailableReason } from './trellis-wg';
import { BUNDLED_WIREGUARD_GO, chooseWireguardGo, type WireguardGoSource } from './wireguard-go';

/** Where the chosen binary came from. */
export type DeviceBinarySource = WireguardGoSource | 'trellis-wg';

export interface DeviceBinaryChoice {
  path: string;
  source: DeviceBinarySource;
  /** Set when the default could not be trellis-wg: why, and what is lost; null otherwise. */
  fallback: string | null;
}

export interface DeviceBinaryPaths {
  trellisWg: string;
  wireguardGo: string;
}

const BUNDLED: DeviceBinaryPaths = { trellisWg: BUNDLED_TRELLIS_WG, wireguardGo: BUNDLED_WIREGUARD_GO };

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * chooseDeviceBinary picks the device binary. An explicit path or TRELLIS_WIREGUARD_GO is taken as
 * asked (fallback null: the operator chose it). Otherwise trellis-wg when installed; when it is
 * not, upstream wireguard-go as chooseWireguardGo picks it, with a fallback line that names why
 * and that NAT traversal, candidate probes and relays are unavailable.
 */
export function chooseDeviceBinary(explicit?: string, paths: DeviceBinaryPaths = BUNDLED): DeviceBinaryChoice {
  if (explicit) return { path: explicit, source: 'explicit', fallback: null };
  const fromEnv = process.env.TRELLIS_WIREGUARD_GO;
  if (fromEnv) return { path: fromEnv, source: 'env', fallback: null };
  if (isExecutable(paths.trellisWg)) return { path: paths.trellisWg, source: 'trellis-wg', fallback: null };
  const wg = chooseWireguardGo(undefined, paths.wireguardGo);
  const why = [trellisWgUnavailableReason(paths.trellisWg), wg.fallback].filter((x): x is string => x !== null).join('; and ');
  return { path: wg.path, source: wg.source, fallback: `${why}; ${WITHOUT_TRELLIS_WG}` };
}
