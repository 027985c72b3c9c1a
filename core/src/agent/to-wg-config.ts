import type { NetworkMap } from '../netmap/types';
import type { WgConfig, WgPeerConfig } from '../wg/types';
import { EXIT_FWMARK, type Prefs } from './prefs';
import { parsePrefix, prefixContains } from '../net';

const EXIT_PREFIXES = ['0.0.0.0/0', '::/0'];

/** Keepalive every peer gets, seconds: keeps NAT mappings open and lets probes see a live path. */
export const PERSISTENT_KEEPALIVE = 25;

/**
 * toWgConfig turns a NetworkMap into exactly what the WireGuard device needs. Pure: the same
 * inputs always give the same, sorted output, so the device diff stays empty when nothing changed.
 * Peer entries carry only overlay addresses; with prefs.acceptRoutes each subnet route of the map
 * adds its prefix to the allowed IPs of the peer it goes through (map.routes[].via). Transit routes
 * (a spoke's overlay through its hub) are not a choice: their prefixes always join the hub's
 * allowed IPs, and direct peers' /32 and /128 still win by longest prefix.
 */
export function toWgConfig(map: NetworkMap, prefs: Prefs, privateKey: string, listenPort: number, exitPeer: string | null = null): WgConfig {
  const routed = new Map<string, string[]>();
  for (const prefix of acceptedRoutePrefixes(map, prefs)) {
    for (const r of map.routes) {
      if (r.prefix !== prefix || (r.kind ?? 'subnet') !== 'subnet') continue;
      const list = routed.get(r.via) ?? [];
      if (!list.includes(prefix)) list.push(prefix);
      routed.set(r.via, list);
      break;
    }
  }
  for (const r of map.routes) {
    if (r.kind !== 'transit' || r.via === map.self.id) continue;
    const list = routed.get(r.via) ?? [];
    if (!list.includes(r.prefix)) list.push(r.prefix);
    routed.set(r.via, list);
  }
  // Maps from before routes travelled apart listed them in the gateway's allowed IPs: drop those when routes are not accepted.
  const refused = new Map<string, Set<string>>();
  if (!prefs.acceptRoutes) {
    for (const r of map.routes) {
      if (r.kind === 'transit') continue;
      const set = refused.get(r.via) ?? new Set<string>();
      set.add(r.prefix);
      refused.set(r.via, set);
    }
  }
  const peers: WgPeerConfig[] = [];
  for (const p of map.peers) {
    if (p.id === map.self.id || p.wgKey === map.self.wgKey) continue;
    const extra = routed.get(p.id);
    const skip = refused.get(p.id);
    const own = skip ? p.allowedIps.filter((ip) => !skip.has(ip)) : [...p.allowedIps];
    peers.push({
      publicKey: p.wgKey,
      endpoint: p.endpoints.length > 0 ? p.endpoints[0] : null,
      allowedIps: extra ? [...own, ...extra.filter((x) => !own.includes(x))] : own,
      persistentKeepalive: PERSISTENT_KEEPALIVE,
    });
  }
  if (exitPeer !== null) {
    const p = map.peers.find((x) => x.id === exitPeer);
    const cfg = p ? peers.find((x) => x.publicKey === p.wgKey) : undefined;
    if (cfg) cfg.allowedIps = [...cfg.allowedIps, ...EXIT_PREFIXES.filter((x) => !cfg.allowedIps.includes(x))];
  }
  peers.sort((a, b) => (a.publicKey < b.publicKey ? -1 : a.publicKey > b.publicKey ? 1 : 0));
  // The device marks its own UDP whenever an exit node is wanted, so policy routing keeps it out of the tunnel.
  return prefs.exitNode ? { privateKey, listenPort, fwmark: EXIT_FWMARK, peers } : { privateKey, listenPort, peers };
}

/** acceptedRoutePrefixes lists the subnet prefixes to route into the tunnel under prefs. */
export function acceptedRoutePrefixes(map: NetworkMap, prefs: Prefs): string[] {
  if (!prefs.acceptRoutes) return [];
  const peerIds = new Set(map.peers.map((p) => p.id));
  const out = new Set<string>();
  const excluded = (prefs.exclude ?? []).map((c) => parsePrefix(c)).filter((c) => c !== null);
  const included = (prefs.include ?? []).map((c) => parsePrefix(c)).filter((c) => c !== null);
  for (const r of map.routes) {
    if ((r.kind ?? 'subnet') !== 'subnet' || r.via === map.self.id || !peerIds.has(r.via)) continue;
    const p = parsePrefix(r.prefix);
    const inside = (x: NonNullable<typeof p>) => p !== null && x.family === p.family && x.length <= p.length && prefixContains(x, p);
    if (p && excluded.some(inside)) continue;
    if (included.length > 0 && !included.some(inside)) continue;
    out.add(r.prefix);
  }
  return [...out].sort();
}

/** installedRoutes: the accepted subnets with the peer each goes through and, behind a hub, the gateway's name (for `trellis status`). */
export function installedRoutes(map: NetworkMap, prefs: Prefs): Array<{ prefix: string; via: string; gateway?: string }> {
  const out: Array<{ prefix: string; via: string; gateway?: string }> = [];
  for (const prefix of acceptedRoutePrefixes(map, prefs)) {
    const r = map.routes.find((x) => x.prefix === prefix && (x.kind ?? 'subnet') === 'subnet');
    if (r) out.push(r.gateway && r.gateway !== r.via ? { prefix, via: r.via, gateway: r.gatewayName ?? r.gateway } : { prefix, via: r.via });
  }
  return out;
}

/** isOverlayTransit: a transit route of the overlay itself (a spoke's way through its hub), not a subnet a hub forwards. */
export function isOverlayTransit(map: NetworkMap, r: NetworkMap['routes'][number]): boolean {
  return r.kind === 'transit' && (r.prefix === map.overlay.ipv4Cidr || r.prefix === map.overlay.ipv6Prefix);
}

/** transitHub: the peer id a spoke reaches non-direct overlay addresses through, or null. */
export function transitHub(map: NetworkMap): string | null {
  return map.routes.find((r) => isOverlayTransit(map, r) && r.via !== map.self.id)?.via ?? null;
}

/** forwardedSubnets: the subnets a hub forwards to the spoke gateways behind it, with each gateway's id. */
export function forwardedSubnets(map: NetworkMap): Array<{ prefix: string; via: string }> {
  return map.routes.filter((r) => r.kind === 'transit' && r.via !== map.self.id && !isOverlayTransit(map, r)).map((r) => ({ prefix: r.prefix, via: r.via }));
}

/**
 * kernelRoutePrefixes: every prefix routed to the WireGuard interface: the overlay, the accepted
 * subnets and, on a hub, the subnets it forwards to spoke gateways (WireGuard picks the peer).
 */
export function kernelRoutePrefixes(map: NetworkMap, prefs: Prefs): string[] {
  const out = [map.overlay.ipv4Cidr, map.overlay.ipv6Prefix, ...acceptedRoutePrefixes(map, prefs)];
  for (const f of forwardedSubnets(map)) if (!out.includes(f.prefix)) out.push(f.prefix);
  return out;
}
