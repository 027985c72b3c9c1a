/**
 * trellis-wg is Trellis's own WireGuard device (core/native/trellis-wg): upstream wireguard-go's
 * device at the pinned commit, plus a control socket beside the UAPI socket through which the
 * agent receives and sends STUN and disco datagrams on the WireGuard UDP socket. Setup builds it
 * into /usr/local/lib/trellis (scripts/install-trellis-wg.sh). NAT traversal, candidate probes and
 * relays need it; upstream or Debian's wireguard-go still carry the mesh without them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ControlConnection } from './control-connection';
import type { DiscoSupport } from './types';

export type { DiscoSupport };

/** BUNDLED_TRELLIS_WG is where setup installs trellis-wg. */
export const BUNDLED_TRELLIS_WG = '/usr/local/lib/trellis/trellis-wg';

/** What a device without trellis-wg cannot do, in one phrase for warnings and `trellis status`. */
export const WITHOUT_TRELLIS_WG = 'NAT traversal, candidate probes and relays are unavailable';

/** controlSocketPath is a device's control socket: <iface>.ctl beside its UAPI <iface>.sock. */
export function controlSocketPath(iface: string, socketDir = '/var/run/wireguard'): string {
  return join(socketDir, `${iface}.ctl`);
}

/** relayControlSocketPath is `trellis-wg relay --port <port>`'s default control socket. */
export function relayControlSocketPath(port: number, socketDir = '/var/run/wireguard'): string {
  return join(socketDir, `relay-${port}.ctl`);
}

/**
 * nodeRelayControlSocketPath is the control socket of the relay a node's agent runs beside its
 * device <iface>: named by the interface (unique on the machine, while two lab relays in two
 * namespaces may share a port), so `lab down` sweeps it with the device's sockets.
 */
export function nodeRelayControlSocketPath(iface: string, socketDir = '/var/run/wireguard'): string {
  return join(socketDir, `${iface}.relay.ctl`);
}

/** trellisWgUnavailableReason says why trellis-wg is not installed, from what setup recorded. */
export function trellisWgUnavailableReason(bundled: string = BUNDLED_TRELLIS_WG): string {
  let recorded = '';
  try {
    recorded = readFileSync(`${bundled}.unavailable`, 'utf8').split('\n')[0].trim();
  } catch {
    // setup never tried, or has not run since the binary was removed
  }
  return `trellis-wg is not installed at ${bundled} (${recorded || 'run scripts/setup.sh to build it'})`;
}

/** parseTrellisWgVersion reads `trellis-wg --version`'s first line: "trellis-wg v0.1.0 (source …)" → "v0.1.0". */
export function parseTrellisWgVersion(out: string): string | null {
  return /^trellis-wg\s+(v\S+)/.exec(out.trimStart())?.[1] ?? null;
}

/**
 * probeDiscoSupport checks that a device's control socket answers as trellis-wg (its hello). A
 * device run by upstream wireguard-go has no such socket.
 */
export async function probeDiscoSupport(iface: string, implementation: string | null, socketDir?: string): Promise<DiscoSupport> {
  const socket = controlSocketPath(iface, socketDir);
  if (implementation !== null && implementation !== 'trellis-wg') {
    return { available: false, socket: null, reason: `${implementation} has no control socket; ${WITHOUT_TRELLIS_WG} (they need trellis-wg)` };
  }
  try {
    const c = await ControlConnection.open(socket, { info: () => undefined, closed: () => undefined }, { timeoutMs: 1_000 });
    c.close();
    return { available: true, socket, reason: null };
  } catch (err) {
    return { available: false, socket: null, reason: `${(err as Error).message}; ${WITHOUT_TRELLIS_WG}` };
  }
}
