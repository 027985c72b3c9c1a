import type { NetworkMap } from '../netmap/types';
import type { WgConfig, WgPeerConfig } from '../wg/types';
import type { Prefs } from './prefs';

/** Keepalive every peer gets, seconds: keeps NAT mappings open and lets probes see a live path. */
export const PERSISTENT_KEEPALIVE = 25;

/**
 * toWgConfig turns a NetworkMap into exactly what the WireGuard device needs. Pure: the same
 * inputs always give the same, sorted output, so the device diff stays empty when nothing changed.
 * Without prefs.acceptRoutes a peer keeps only the allowed IPs that are not subnet routes it serves.
 */
export function toWgConfig(map: NetworkMap, prefs: Prefs, privateKey: string, listenPort: number): WgConfig {
  const routed = new Map<string, Set<string>>();
  if (!prefs.acceptRoutes) {
    for (const r of map.routes) {
      const set = routed.get(r.via) ?? new Set<string>();
      set.add(r.prefix);
      routed.set(r.via, set);
    }
  }
  const peers: WgPeerConfig[] = [];
  for (const p of map.peers) {
    if (p.id === map.self.id || p.wgKey === map.self.wgKey) continue;
    const skip = routed.get(p.id);
    peers.push({
      publicKey: p.wgKey,
      endpoint: p.endpoints.length > 0 ? p.endpoints[0] : null,
      allowedIps: p.allowedIps.filter((ip) => !skip?.has(ip)),
      persistentKeepalive: PERSISTENT_KEEPALIVE,
    });
  }
  peers.sort((a, b) => (a.publicKey < b.publicKey ? -1 : a.publicKey > b.publicKey ? 1 : 0));
  return { privateKey, listenPort, peers };
}

/** acceptedRoutePrefixes lists the subnet prefixes to route into the tunnel under prefs. */
export function acceptedRoutePrefixes(map: NetworkMap, prefs: Prefs): string[] {
  if (!prefs.acceptRoutes) return [];
  const peerIds = new Set(map.peers.map((p) => p.id));
  const out = new Set<string>();
  for (const r of map.routes) if (r.via !== map.self.id && peerIds.has(r.via)) out.add(r.prefix);
  return [...out].sort();
}
