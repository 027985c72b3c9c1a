/**
 * Addressing of the WireGuard interface with iproute2 (`ip -j`): link state, overlay addresses,
 * routes, and the underlay addresses a node advertises. Each call reads first and runs only the
 * commands that change something, so repeating it is free and never disturbs traffic.
 */
import { errors } from '../errors';
import { run, runJson, tryRun, type RunOptions } from '../sys/run';
import { parseIp } from '../net';
import { canonicalAddress, canonicalCidr, cidrFamily } from './cidr';

interface IpAddrInfo {
  family?: string;
  local?: string;
  prefixlen?: number;
  scope?: string;
  tentative?: boolean;
  dadfailed?: boolean;
}

interface IpLink {
  ifname: string;
  flags?: string[];
  mtu?: number;
  link_type?: string;
  operstate?: string;
  addr_info?: IpAddrInfo[];
}

interface IpRoute {
  dst?: string;
  type?: string;
  protocol?: string;
  scope?: string;
}

function withOpts(opts?: RunOptions): RunOptions {
  return opts ?? {};
}

/** setLinkUp sets the MTU and brings the interface up, each only if it is not so already. */
export async function setLinkUp(iface: string, mtu: number, opts?: RunOptions): Promise<void> {
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535) {
    throw errors.configInvalid(`MTU of ${iface}`, `${mtu} is not an integer in 576..65535 (WireGuard usually uses 1420, IPv6 needs >= 1280)`);
  }
  const links = await runJson<IpLink[]>('ip', ['-j', 'link', 'show', 'dev', iface], withOpts(opts));
  const link = links[0];
  if (!link) throw errors.device(iface, 'interface not found; bring the WireGuard device up first');
  if (link.mtu !== mtu) await run('ip', ['link', 'set', 'dev', iface, 'mtu', String(mtu)], withOpts(opts));
  if (!(link.flags ?? []).includes('UP')) await run('ip', ['link', 'set', 'dev', iface, 'up'], withOpts(opts));
}

function isLinkLocal(cidr: string): boolean {
  const ip = parseIp(cidr.split('/')[0]);
  if (!ip) return false;
  const b = ip.bytes;
  if (ip.family === 4) return b[0] === 169 && b[1] === 254;
  return b[0] === 0xfe && (b[1] & 0xc0) === 0x80;
}

function isMulticast(cidr: string): boolean {
  const ip = parseIp(cidr.split('/')[0]);
  if (!ip) return false;
  return ip.family === 4 ? ip.bytes[0] >= 224 && ip.bytes[0] <= 239 : ip.bytes[0] === 0xff;
}

/**
 * syncAddresses makes the interface's global addresses exactly cidrs (host bits kept, e.g.
 * 100.100.0.1/32): adds the missing, deletes the extra, leaves link-local ones alone.
 */
export async function syncAddresses(iface: string, cidrs: string[], opts?: RunOptions): Promise<void> {
  const want = new Map<string, string>();
  for (const c of cidrs) want.set(canonicalAddress(c, `address of ${iface}`), c);
  const links = await runJson<IpLink[]>('ip', ['-j', 'addr', 'show', 'dev', iface], withOpts(opts));
  if (!links[0]) throw errors.device(iface, 'interface not found; bring the WireGuard device up first');
  const have = new Set<string>();
  const extra: string[] = [];
  for (const a of links[0].addr_info ?? []) {
    if ((a.family !== 'inet' && a.family !== 'inet6') || a.local === undefined || a.prefixlen === undefined) continue;
    const cidr = canonicalAddress(`${a.local}/${a.prefixlen}`, `address on ${iface}`);
    have.add(cidr);
    if (want.has(cidr) || a.scope === 'link' || a.scope === 'host' || isLinkLocal(cidr)) continue;
    extra.push(cidr);
  }
  for (const cidr of extra) await run('ip', ['addr', 'del', cidr, 'dev', iface], withOpts(opts));
  for (const cidr of want.keys()) {
    if (have.has(cidr)) continue;
    const args = cidrFamily(cidr) === 6 ? ['-6', 'addr', 'add', cidr, 'dev', iface, 'nodad'] : ['addr', 'add', cidr, 'dev', iface];
    await run('ip', args, withOpts(opts));
  }
}

function routeCidr(dst: string, family: 4 | 6): string {
  if (dst === 'default') return family === 4 ? '0.0.0.0/0' : '::/0';
  return canonicalCidr(dst, 'route');
}

/**
 * syncRoutes makes the main-table routes via iface exactly prefixes. Kernel routes (from
 * addresses), link-local and multicast routes are left alone; an existing kernel route for a
 * wanted prefix counts as present.
 */
export async function syncRoutes(iface: string, prefixes: string[], opts?: RunOptions): Promise<void> {
  const want = new Set(prefixes.map((p) => canonicalCidr(p, `route via ${iface}`)));
  const [v4, v6] = await Promise.all([
    runJson<IpRoute[]>('ip', ['-j', '-4', 'route', 'show', 'dev', iface], withOpts(opts)),
    runJson<IpRoute[]>('ip', ['-j', '-6', 'route', 'show', 'dev', iface], withOpts(opts)),
  ]);
  const have = new Set<string>();
  const extra: Array<{ cidr: string; family: 4 | 6 }> = [];
  const scan = (routes: IpRoute[], family: 4 | 6) => {
    for (const r of routes) {
      if (r.dst === undefined || (r.type !== undefined && r.type !== 'unicast')) continue;
      const cidr = routeCidr(r.dst, family);
      have.add(cidr);
      if (want.has(cidr) || r.protocol === 'kernel' || isLinkLocal(cidr) || isMulticast(cidr)) continue;
      extra.push({ cidr, family });
    }
  };
  scan(v4, 4);
  scan(v6, 6);
  for (const { cidr, family } of extra) {
    await run('ip', [`-${family}`, 'route', 'del', cidr, 'dev', iface], withOpts(opts));
  }
  for (const cidr of want) {
    if (have.has(cidr)) continue;
    await run('ip', [`-${cidrFamily(cidr)}`, 'route', 'replace', cidr, 'dev', iface], withOpts(opts));
  }
}

/**
 * listUnderlayAddresses is every global unicast address of up, non-loopback interfaces except
 * those named in exclude (the overlay itself), for advertising endpoints. Addresses still in
 * duplicate-address detection or failed it are left out.
 */
export async function listUnderlayAddresses(exclude: string[], opts?: RunOptions): Promise<string[]> {
  return (await listUnderlayInterfaces(exclude, opts)).flatMap((i) => i.addresses);
}

/** The underlay addresses of one interface, in the kernel's order. */
export interface UnderlayInterface {
  ifname: string;
  addresses: string[];
}

/**
 * listUnderlayInterfaces gives the same addresses as listUnderlayAddresses, by interface in the
 * kernel's order (an address on two interfaces counts for the first), so a node with two uplinks
 * can tell its first link's addresses from the other's.
 */
export async function listUnderlayInterfaces(exclude: string[], opts?: RunOptions): Promise<UnderlayInterface[]> {
  const skip = new Set(exclude);
  const links = await runJson<IpLink[]>('ip', ['-j', 'addr', 'show', 'up'], withOpts(opts));
  const out: UnderlayInterface[] = [];
  const seen = new Set<string>();
  for (const link of links) {
    if (skip.has(link.ifname) || link.ifname === 'lo' || link.link_type === 'loopback') continue;
    if ((link.flags ?? []).includes('LOOPBACK')) continue;
    const addresses: string[] = [];
    for (const a of link.addr_info ?? []) {
      if (a.scope !== 'global' || a.local === undefined || a.tentative || a.dadfailed) continue;
      if (a.family !== 'inet' && a.family !== 'inet6') continue;
      const ip = parseIp(a.local);
      if (!ip) continue;
      const cidr = `${a.local}/${ip.family === 4 ? 32 : 128}`;
      if (isLinkLocal(cidr) || isMulticast(cidr)) continue;
      const text = canonicalAddress(cidr).split('/')[0]!;
      if (!seen.has(text)) {
        seen.add(text);
        addresses.push(text);
      }
    }
    if (addresses.length > 0) out.push({ ifname: link.ifname, addresses });
  }
  return out;
}

/** ExitRouting: policy routing that sends every other packet into the tunnel (an exit node), as wg-quick does. */
export interface ExitRoutingSpec {
  /** The routing table holding the default route into iface. */
  table: number;
  /** The device's own packets carry this mark and stay in the main table. */
  fwmark: number;
  /** CIDRs that stay outside the tunnel (looked up in the main table). */
  exclude: string[];
}

/** Rule priorities Trellis owns: exclusions, then the main table without its default route, then the tunnel. */
const EXIT_RULE_PRIORITIES = { exclude: 5100, suppress: 5200, tunnel: 5210 } as const;

/**
 * syncExitRouting installs (spec) or removes (null) the exit-node policy routing of iface, for both
 * families: `ip rule to <excluded> lookup main` at 5100, `lookup main suppress_prefixlength 0` at
 * 5200 (so the LAN, the overlay and every specific route keep working), `not fwmark <mark> lookup
 * <table>` at 5210 and a default route via iface in that table. The device's UDP carries the mark,
 * so WireGuard itself never loops into the tunnel. Rules at those priorities are Trellis's own.
 */
export async function syncExitRouting(iface: string, spec: ExitRoutingSpec | null, opts?: RunOptions): Promise<void> {
  for (const family of ['-4', '-6'] as const) {
    for (const priority of Object.values(EXIT_RULE_PRIORITIES)) {
      for (let i = 0; i < 256; i++) if ((await tryRun('ip', [family, 'rule', 'del', 'priority', String(priority)], withOpts(opts))) === null) break;
    }
    if (spec) await tryRun('ip', [family, 'route', 'flush', 'table', String(spec.table)], withOpts(opts));
  }
  if (!spec) return;
  for (const family of [4, 6] as const) {
    const f = `-${family}`;
    await run('ip', [f, 'route', 'replace', 'default', 'dev', iface, 'table', String(spec.table)], withOpts(opts));
    for (const cidr of spec.exclude) {
      if (cidrFamily(canonicalCidr(cidr, 'excluded CIDR')) !== family) continue;
      await run('ip', [f, 'rule', 'add', 'to', cidr, 'lookup', 'main', 'priority', String(EXIT_RULE_PRIORITIES.exclude)], withOpts(opts));
    }
    await run('ip', [f, 'rule', 'add', 'lookup', 'main', 'suppress_prefixlength', '0', 'priority', String(EXIT_RULE_PRIORITIES.suppress)], withOpts(opts));
    await run('ip', [f, 'rule', 'add', 'not', 'fwmark', String(spec.fwmark), 'lookup', String(spec.table), 'priority', String(EXIT_RULE_PRIORITIES.tunnel)], withOpts(opts));
  }
}
