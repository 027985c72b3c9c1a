/**
 * Lab sites (`trellis lab up --site n2=10.20.0.0/24`): a LAN behind one or more gateway nodes. The
 * LAN is a namespace (trl-site<i>) holding a bridge whose own address is the site's host (.10, it
 * answers ping and serves HTTP on port 80 when asked); each gateway node gets a veth `lan0` on that
 * bridge at .<100+k>. Removed with every other trl-* namespace by `lab down`.
 */
import { errors } from '../errors';
import { formatIp, formatPrefix, parsePrefix } from '../net';
import { run } from '../sys/run';
import { NAMESPACE_PREFIX, bridgeMac, type LabSiteSpec, type LabSiteState } from './lab-state';

export type { LabSiteSpec, LabSiteState } from './lab-state';


/** The interface each gateway node has on its site's LAN. */
export const SITE_LAN_IFACE = 'lan0';

/** parseSiteSpec reads "n2=10.20.0.0/24" or "n2,n3=10.20.0.0/24". */
export function parseSiteSpec(text: string): LabSiteSpec {
  const eq = text.indexOf('=');
  if (eq < 0) throw errors.lab(`--site "${text}" is not <node>[,<node>…]=<IPv4 CIDR>, e.g. n2=10.20.0.0/24`);
  const gateways = text.slice(0, eq).split(',').map((g) => g.trim()).filter((g) => g !== '');
  const p = parsePrefix(text.slice(eq + 1).trim());
  if (gateways.length === 0) throw errors.lab(`--site "${text}" names no gateway node`);
  if (!p || p.family !== 4 || p.length < 8 || p.length > 29) throw errors.lab(`--site "${text}": the LAN must be an IPv4 CIDR from /8 to /29, e.g. 10.20.0.0/24`);
  const prefix = formatPrefix(p);
  if (prefix !== text.slice(eq + 1).trim()) throw errors.lab(`--site "${text}": write the network address, ${prefix}`);
  if (new Set(gateways).size !== gateways.length) throw errors.lab(`--site "${text}" lists a gateway twice`);
  return { prefix, gateways };
}

/** siteAddress is the LAN address .<n> of a site prefix. */
export function siteAddress(prefix: string, n: number): string {
  const p = parsePrefix(prefix)!;
  const bytes = Uint8Array.from(p.bytes);
  bytes[3] = (bytes[3]! + n) & 0xff;
  return formatIp({ family: 4, bytes } as Parameters<typeof formatIp>[0]);
}

export function siteState(spec: LabSiteSpec, i: number): LabSiteState {
  return { ...spec, namespace: `${NAMESPACE_PREFIX}site${i}`, host: siteAddress(spec.prefix, 10) };
}

/** createSite makes the LAN namespace with its bridge and host address. */
export async function createSite(site: LabSiteState): Promise<void> {
  const ns = site.namespace;
  const bits = site.prefix.split('/')[1]!;
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  await run('ip', ['-n', ns, 'link', 'add', 'br0', 'type', 'bridge']);
  // A fixed MAC: one taken from a gateway's port would change as gateways attach (see bridgeMac).
  await run('ip', ['-n', ns, 'link', 'set', 'br0', 'address', bridgeMac(1, 0)]);
  await run('ip', ['-n', ns, 'addr', 'add', `${site.host}/${bits}`, 'dev', 'br0']);
  await run('ip', ['-n', ns, 'link', 'set', 'br0', 'up']);
}

/** attachGateway links a gateway node's namespace to the site's bridge: lan0 at .<100+index>. */
export async function attachGateway(site: LabSiteState, nodeNamespace: string, index: number): Promise<string> {
  const bits = site.prefix.split('/')[1]!;
  const address = siteAddress(site.prefix, 100 + index);
  const port = `gw${index}`;
  await run('ip', ['-n', site.namespace, 'link', 'add', port, 'type', 'veth', 'peer', 'name', SITE_LAN_IFACE, 'netns', nodeNamespace]);
  await run('ip', ['-n', site.namespace, 'link', 'set', port, 'master', 'br0']);
  await run('ip', ['-n', site.namespace, 'link', 'set', port, 'up']);
  await run('ip', ['-n', nodeNamespace, 'addr', 'add', `${address}/${bits}`, 'dev', SITE_LAN_IFACE]);
  await run('ip', ['-n', nodeNamespace, 'link', 'set', SITE_LAN_IFACE, 'up']);
  return address;
}

/** gatewayArgs: what a site gateway's `trellis up` advertises (priority by its place in the list). */
export function gatewayArgs(site: LabSiteState, name: string): string[] {
  const place = site.gateways.indexOf(name);
  return ['--advertise-routes', site.prefix, '--route-check', site.host, '--route-priority', String(200 - place * 10)];
}
