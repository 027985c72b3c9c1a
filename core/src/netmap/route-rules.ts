/**
 * Route rules: what a gateway may advertise, checked the same way by `trellis up` (before anything
 * is sent) and by the controller (before anything is stored). Prefixes are read with the shared IP
 * module and written canonically (network address, no host bits).
 */
import { errors } from '../errors';
import { formatIp, formatPrefix, parseAddressWithLength, parseIp, parsePrefix, prefixContains, prefixesOverlap, type IpPrefix } from '../net';

/** An exit node advertises these two prefixes (kind exit); no gateway may advertise them as subnets. */
export const EXIT_PREFIXES = Object.freeze(['0.0.0.0/0', '::/0'] as const);
/** At most this many subnet routes per gateway. */
export const MAX_ADVERTISED_ROUTES = 64;
/** Priorities run 0..MAX_ROUTE_PRIORITY; the higher wins among healthy gateways of one prefix. */
export const MAX_ROUTE_PRIORITY = 1000;
export const DEFAULT_ROUTE_PRIORITY = 100;

/** What a gateway announces: its subnets (each with the address it checks, if any), a priority, and whether it is an exit node. */
export interface RouteAdvertisement {
  routes: Array<{ prefix: string; check: string | null }>;
  priority: number;
  exit: boolean;
}

/** One advertised route after the checks: canonical prefix, kind, priority and check target. */
export interface AdvertisedRoute {
  prefix: string;
  kind: 'subnet' | 'exit';
  priority: number;
  check: string | null;
}

/** Prefixes no gateway routes: loopback, link-local and multicast, in both families. */
const NOT_ROUTABLE: ReadonlyArray<[string, string]> = [
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['224.0.0.0/4', 'multicast'],
  ['::1/128', 'loopback'],
  ['fe80::/10', 'link-local'],
  ['ff00::/8', 'multicast'],
].map(([p, why]) => [p!, why!]);

/**
 * parseRoutePrefix reads one advertised subnet and returns its canonical text, or throws
 * TRELLIS_ERR_ROUTE_INVALID saying what is wrong: not a CIDR, host bits set, a default route (that
 * is an exit node), or a prefix no gateway can route.
 */
export function parseRoutePrefix(text: string, field = 'route'): string {
  const trimmed = text.trim();
  if (!trimmed.includes('/')) throw errors.routeInvalid(`${field} "${text}" has no prefix length; write a CIDR such as 10.20.0.0/24`);
  const parsed = parseAddressWithLength(trimmed);
  if (!parsed) throw errors.routeInvalid(`${field} "${text}" is not an IPv4 or IPv6 CIDR (e.g. 10.20.0.0/24 or fd00:20::/64)`);
  const prefix = parsePrefix(trimmed)!;
  const canonical = formatPrefix(prefix);
  if (formatIp(parsed.ip) !== formatIp(prefix)) {
    throw errors.routeInvalid(`${field} "${text}" has host bits set; the network is ${canonical}`);
  }
  if (prefix.length === 0) {
    throw errors.routeInvalid(`${field} "${text}" is a default route; advertise an exit node with --advertise-exit instead`);
  }
  for (const [p, why] of NOT_ROUTABLE) {
    const reserved = parsePrefix(p)!;
    if (prefixesOverlap(reserved, prefix)) throw errors.routeInvalid(`${field} ${canonical} overlaps the ${why} range ${p}, which no gateway routes`);
  }
  return canonical;
}

/** overlayOverlap names the overlay prefix a route overlaps, or null. */
export function overlayOverlap(prefix: string, overlay: { ipv4Cidr: string; ipv6Prefix: string }): string | null {
  const p = parsePrefix(prefix);
  if (!p) return null;
  for (const o of [overlay.ipv4Cidr, overlay.ipv6Prefix]) {
    const q = parsePrefix(o);
    if (q && prefixesOverlap(p, q)) return o;
  }
  return null;
}

/**
 * checkAdvertisement validates a whole advertisement and returns its routes (subnets in prefix
 * order, then the exit prefixes): canonical prefixes, none inside or around the overlay, none
 * overlapping another of the same gateway, each check target inside its own prefix, a priority in
 * 0..MAX_ROUTE_PRIORITY. Throws TRELLIS_ERR_ROUTE_INVALID naming the first problem.
 */
export function checkAdvertisement(ad: RouteAdvertisement, overlay: { ipv4Cidr: string; ipv6Prefix: string } | null): AdvertisedRoute[] {
  if (!Number.isInteger(ad.priority) || ad.priority < 0 || ad.priority > MAX_ROUTE_PRIORITY) {
    throw errors.routeInvalid(`priority ${String(ad.priority)} is not a whole number from 0 to ${MAX_ROUTE_PRIORITY}`);
  }
  if (ad.routes.length > MAX_ADVERTISED_ROUTES) throw errors.routeInvalid(`${ad.routes.length} routes advertised; at most ${MAX_ADVERTISED_ROUTES} per gateway`);
  const seen: Array<{ text: string; prefix: IpPrefix }> = [];
  const out: AdvertisedRoute[] = [];
  for (const r of ad.routes) {
    const text = parseRoutePrefix(r.prefix);
    const prefix = parsePrefix(text)!;
    if (overlay) {
      const o = overlayOverlap(text, overlay);
      if (o) throw errors.routeInvalid(`route ${text} overlaps the overlay ${o}; mesh addresses are routed by Trellis itself, advertise only the networks behind this node`);
    }
    const clash = seen.find((s) => prefixesOverlap(s.prefix, prefix));
    if (clash) {
      throw errors.routeInvalid(
        clash.text === text ? `route ${text} is listed twice` : `routes ${clash.text} and ${text} of this node overlap; advertise the wider one only`,
      );
    }
    seen.push({ text, prefix });
    let check: string | null = null;
    if (r.check !== null) {
      const ip = parseIp(r.check);
      if (!ip) throw errors.routeInvalid(`route check "${r.check}" is not an IP address`);
      if (!prefixContains(prefix, ip)) throw errors.routeInvalid(`route check ${formatIp(ip)} is not inside the route ${text} it checks`);
      check = formatIp(ip);
    }
    out.push({ prefix: text, kind: 'subnet', priority: ad.priority, check });
  }
  out.sort((a, b) => comparePrefixText(a.prefix, b.prefix));
  if (ad.exit) for (const p of EXIT_PREFIXES) out.push({ prefix: p, kind: 'exit', priority: ad.priority, check: null });
  return out;
}

/**
 * assignChecks pairs `--route-check` addresses with the advertised prefixes: each address goes to
 * the (most specific) prefix that holds it; an address inside none, or two for one prefix, is refused.
 */
export function assignChecks(prefixes: readonly string[], checks: readonly string[]): Array<{ prefix: string; check: string | null }> {
  const routes = prefixes.map((p) => ({ prefix: parseRoutePrefix(p), check: null as string | null }));
  for (const c of checks) {
    const ip = parseIp(c.trim());
    if (!ip) throw errors.routeInvalid(`route check "${c}" is not an IP address`);
    let best: { prefix: string; check: string | null } | null = null;
    let bestLen = -1;
    for (const r of routes) {
      const p = parsePrefix(r.prefix)!;
      if (prefixContains(p, ip) && p.length > bestLen) {
        best = r;
        bestLen = p.length;
      }
    }
    if (!best) throw errors.routeInvalid(`route check ${formatIp(ip)} is inside none of the advertised routes (${routes.map((r) => r.prefix).join(', ') || 'none'}); it must be an address behind this gateway`);
    if (best.check !== null) throw errors.routeInvalid(`route ${best.prefix} has two checks (${best.check} and ${formatIp(ip)}); give one per route`);
    best.check = formatIp(ip);
  }
  return routes;
}

/** comparePrefixText orders canonical prefixes as comparePrefixes does (IPv4 first, then by address and length). */
export function comparePrefixText(a: string, b: string): number {
  const pa = parsePrefix(a);
  const pb = parsePrefix(b);
  if (!pa || !pb) return a < b ? -1 : a > b ? 1 : 0;
  if (pa.family !== pb.family) return pa.family - pb.family;
  for (let i = 0; i < pa.bytes.length; i++) if (pa.bytes[i] !== pb.bytes[i]) return pa.bytes[i]! - pb.bytes[i]!;
  return pa.length - pb.length;
}

/** isExitPrefix: 0.0.0.0/0 or ::/0. */
export function isExitPrefix(prefix: string): boolean {
  return prefix === EXIT_PREFIXES[0] || prefix === EXIT_PREFIXES[1];
}

/** prefixesOverlapText: two canonical prefixes share an address. */
export function prefixesOverlapText(a: string, b: string): boolean {
  const pa = parsePrefix(a);
  const pb = parsePrefix(b);
  return pa !== null && pb !== null && prefixesOverlap(pa, pb);
}
