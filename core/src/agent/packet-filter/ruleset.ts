import { errors } from '../../errors';
import type { FilterRule } from '../../netmap/types';
import { mergePortRanges, normalizePrefixes } from './address-set';

/** The nftables table Trellis owns; nothing else in it is anyone else's. */
export const NFT_FAMILY = 'inet';
export const NFT_TABLE = 'trellis';

/** A FilterRule as the controller may send it: dstIps (self's addresses or routed CIDRs) is optional. */
export type PacketFilterRule = FilterRule & { dstIps?: string[] };

export interface PacketFilterSpec {
  /** The WireGuard interface whose inbound traffic is filtered. */
  iface: string;
  /** The map's packetFilter (PacketFilterRule shape); checked here, since it comes over the wire. */
  rules: ReadonlyArray<unknown>;
  /** The agent's probe port and the peers allowed to probe it (overlay IPv4 addresses). */
  probe: { port: number; peerIps: readonly string[] } | null;
  /** A topology hub: traffic in and out of the WireGuard interface (spoke to spoke) is forwarded; the destination filters it. */
  transit?: boolean;
}

const IFACE = /^[A-Za-z0-9_.-]{1,15}$/;
const PROTOS = new Set(['tcp', 'udp', 'icmp', 'any']);

function set(elems: readonly string[]): string {
  return elems.length === 1 ? elems[0] : `{ ${elems.join(', ')} }`;
}

function portExpr(ranges: Array<[number, number]>): string {
  return set(ranges.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)));
}

/** protoExpr: the protocol and port match of a rule for one family (null: both); '' matches all. */
function protoExpr(proto: string, ports: Array<[number, number]>, family: 4 | 6 | null): string {
  const allPorts = ports.length === 0 || (ports.length === 1 && ports[0][0] === 0 && ports[0][1] === 65535);
  switch (proto) {
    case 'tcp':
    case 'udp':
      return allPorts ? `meta l4proto ${proto}` : `${proto} dport ${portExpr(ports)}`;
    case 'icmp':
      return family === 4 ? 'meta l4proto icmp' : family === 6 ? 'meta l4proto ipv6-icmp' : 'meta l4proto { icmp, ipv6-icmp }';
    default:
      return allPorts ? '' : `meta l4proto { tcp, udp } th dport ${portExpr(ports)}`;
  }
}

function stringList(v: unknown, field: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw errors.packetFilterInvalid(`${field} must be a list of strings`);
  return v as string[];
}

/** ruleLines turns one FilterRule into zero, one or two nft rules (one per address family). */
function ruleLines(rule: Record<string, unknown>, index: number): string[] {
  const field = `packetFilter[${index}]`;
  if (typeof rule !== 'object' || rule === null) throw errors.packetFilterInvalid(`${field} is not an object`);
  const proto = rule.proto;
  if (typeof proto !== 'string' || !PROTOS.has(proto)) {
    throw errors.packetFilterInvalid(`${field}.proto ${JSON.stringify(proto)} is not one of tcp, udp, icmp, any`);
  }
  const srcList = stringList(rule.srcIps, `${field}.srcIps`);
  const anySrc = srcList.includes('*');
  const src = normalizePrefixes(srcList.filter((s) => s !== '*'), `${field}.srcIps`);
  const dstList = rule.dstIps === undefined || rule.dstIps === null ? null : stringList(rule.dstIps, `${field}.dstIps`);
  const dst = dstList ? normalizePrefixes(dstList, `${field}.dstIps`) : null;
  if (!Array.isArray(rule.dstPorts)) throw errors.packetFilterInvalid(`${field}.dstPorts must be a list of [from, to] pairs`);
  const ports = mergePortRanges(rule.dstPorts as Array<[number, number]>, `${field}.dstPorts`);
  const comment = `comment "rule ${index + 1}"`;

  if (anySrc && dst === null) {
    return [[protoExpr(proto, ports, null), 'accept', comment].filter((x) => x !== '').join(' ')];
  }
  const out: string[] = [];
  for (const family of [4, 6] as const) {
    const key = family === 4 ? 'v4' : 'v6';
    const ipKw = family === 4 ? 'ip' : 'ip6';
    const parts: string[] = [];
    if (anySrc) parts.push(`meta nfproto ${family === 4 ? 'ipv4' : 'ipv6'}`);
    else if (src[key].length > 0) parts.push(`${ipKw} saddr ${set(src[key])}`);
    else continue;
    if (dst) {
      if (dst[key].length === 0) continue;
      parts.push(`${ipKw} daddr ${set(dst[key])}`);
    }
    parts.push(protoExpr(proto, ports, family), 'accept', comment);
    out.push(parts.filter((x) => x !== '').join(' '));
  }
  return out;
}

/**
 * renderRuleset is the nft script that replaces the trellis table in one transaction: it adds the
 * table (so the delete cannot fail), deletes it, and defines it again. Traffic arriving on the
 * WireGuard interface (input and forward) goes through mesh_in: replies to our own connections,
 * probes from current peers, then one accept per FilterRule, and drop for the rest.
 * Throws TRELLIS_ERR_PACKET_FILTER_INVALID on a malformed rule, before anything is applied.
 */
export function renderRuleset(spec: PacketFilterSpec): string {
  if (!IFACE.test(spec.iface)) throw errors.packetFilterInvalid(`interface name "${spec.iface}" is not a valid interface name`);
  if (!Array.isArray(spec.rules)) throw errors.packetFilterInvalid('packetFilter must be a list of rules');
  const body: string[] = ['ct state established,related accept', 'ct state invalid drop'];
  if (spec.probe) {
    const { port, peerIps } = spec.probe;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw errors.packetFilterInvalid(`probe port ${port} is not a port`);
    const peers = normalizePrefixes(peerIps, 'peer address').v4;
    if (peers.length > 0) body.push(`ip saddr ${set(peers)} udp dport ${port} accept comment "trellis probes"`);
  }
  spec.rules.forEach((r, i) => body.push(...ruleLines(r as Record<string, unknown>, i)));
  body.push('counter drop comment "not allowed by the packet filter"');
  const hook = (name: string) => [
    `\tchain ${name} {`,
    `\t\ttype filter hook ${name} priority filter; policy accept;`,
    ...(name === 'forward' && spec.transit ? [`\t\tiifname "${spec.iface}" oifname "${spec.iface}" counter accept comment "trellis: hub forwards between spokes"`] : []),
    `\t\tiifname "${spec.iface}" jump mesh_in`,
    '\t}',
  ];
  return [
    `add table ${NFT_FAMILY} ${NFT_TABLE}`,
    `delete table ${NFT_FAMILY} ${NFT_TABLE}`,
    `table ${NFT_FAMILY} ${NFT_TABLE} {`,
    ...hook('input'),
    ...hook('forward'),
    '\tchain mesh_in {',
    ...body.map((l) => `\t\t${l}`),
    '\t}',
    '}',
    '',
  ].join('\n');
}

/** removeScript deletes the trellis table, whether or not it exists. */
export function removeScript(): string {
  return `add table ${NFT_FAMILY} ${NFT_TABLE}\ndelete table ${NFT_FAMILY} ${NFT_TABLE}\n`;
}
