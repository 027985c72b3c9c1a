/**
 * desired-state: the tc objects a ShapingProfile stands for, as pure data. Fixed handles mark what
 * Trellis owns: root qdisc 1:, parent class 1:1, classes 1:10 realtime, 1:20 critical,
 * 1:30 default, 1:40 bulk, caps from 1:100; filters at prefs 10+ (caps), 100, 200, 300.
 */
import { formatPrefix } from '@trellis/core/api';
import { parseIpv4Prefix, prefixMask, u32Word, type Ipv4Prefix } from './ipv4-prefix';
import { CLASS_NAMES, effectiveMatch, type PortMatch, type ShapingProfile, type TrafficClassName } from './profile';
import type { U32Key } from './tc-state';

export const ROOT_HANDLE = '1:';
export const PARENT_CLASS = '1:1';
export const INGRESS_HANDLE = 'ffff:';
export const INGRESS_REDIRECT_PREF = 1;
export const CLASS_IDS: Record<TrafficClassName, string> = { realtime: '1:10', critical: '1:20', default: '1:30', bulk: '1:40' };
export const CLASS_PREFS: Record<Exclude<TrafficClassName, 'default'>, number> = { realtime: 100, critical: 200, bulk: 300 };
const CAP_PREF_BASE = 10;
const CAP_MINOR_BASE = 0x100;

export type LeafKind = 'fq_codel' | 'sfq';

export interface DesiredClass {
  classid: string;
  parent: string;
  rateKbit: number;
  ceilKbit: number;
  prio: number | null;
  /** Traffic class name, "link", or "cap <peer|destination>". */
  label: string;
  /** Bytes the class may send at once; see burstBytes. */
  burstBytes: number;
  cburstBytes: number;
}

/** The token bucket depth HTB gets, in milliseconds of the rate. */
export const BURST_MS = 1;
const MIN_BURST_BYTES = 1600;

/**
 * burstBytes sizes HTB's bucket to 1 ms of the rate (at least one full packet). tc's default is
 * about one MTU, which above ~50 Mbit runs dry whenever the dequeue timer fires late (a loaded
 * host, wireguard-go scheduling) and the class then delivers well under its rate.
 */
export function burstBytes(rateKbit: number): number {
  return Math.max(MIN_BURST_BYTES, Math.round((rateKbit * BURST_MS) / 8));
}

export interface DesiredFilter {
  pref: number;
  flowid: string;
  keys: U32Key[];
  /** The u32 match words that produce `keys`, e.g. ['match','ip','tos','0xb8','0xfc']. */
  matchArgs: string[];
}

export interface DesiredLeaf {
  parent: string;
  handle: string;
  kind: LeafKind;
}

export interface DesiredDevice {
  dev: string;
  /** HTB default class minor, hex as tc takes it ("30"). */
  defaultMinor: string;
  r2q: number;
  classes: DesiredClass[];
  filters: DesiredFilter[];
  leaves: DesiredLeaf[];
}

export interface DesiredState {
  profile: string;
  egress: DesiredDevice;
  ingress: { ifb: string; device: DesiredDevice } | null;
}

export interface BuildOptions {
  iface: string;
  /** Leaf qdisc to put under each class, or null to keep the kernel's default pfifo. */
  leaf: LeafKind | null;
  /** Whether ingress shaping (ifb + mirred) can be built here. */
  ingress: boolean;
  /** Overlay IPv4 of peers by node name, to resolve caps that name a peer. */
  peerAddresses: Record<string, string>;
}

/** ifbNameFor derives the ifb device of a WireGuard interface, within the 15-character limit. */
export function ifbNameFor(iface: string): string {
  return `ifb-${iface}`.slice(0, 15);
}

const kbit = (mbit: number) => Math.round(mbit * 1000);

/** buildDesiredState turns a (valid) profile into the tc objects of the egress and ingress devices. */
export function buildDesiredState(profile: ShapingProfile, opts: BuildOptions): DesiredState {
  const egress = buildDevice(profile, opts.iface, profile.linkRateMbit, 'egress', opts);
  const ingress =
    opts.ingress && profile.ingressRateMbit !== undefined
      ? { ifb: ifbNameFor(opts.iface), device: buildDevice(profile, ifbNameFor(opts.iface), profile.ingressRateMbit, 'ingress', opts) }
      : null;
  return { profile: profile.name, egress, ingress };
}

/**
 * buildDevice lays out one HTB tree. Ingress mirrors egress with directions swapped (a remote
 * service port is the source port of incoming traffic) and class rates scaled to the ingress rate.
 */
function buildDevice(profile: ShapingProfile, dev: string, rateMbit: number, dir: 'egress' | 'ingress', opts: BuildOptions): DesiredDevice {
  const scale = rateMbit / profile.linkRateMbit;
  const classes: DesiredClass[] = [
    { classid: PARENT_CLASS, parent: 'root', rateKbit: kbit(rateMbit), ceilKbit: kbit(rateMbit), prio: null, label: 'link', burstBytes: burstBytes(kbit(rateMbit)), cburstBytes: burstBytes(kbit(rateMbit)) },
  ];
  const filters: DesiredFilter[] = [];
  for (const name of CLASS_NAMES) {
    const c = profile.classes[name];
    const ceil = Math.min(c.ceilMbit, rateMbit);
    const rateKbit = Math.max(1, Math.min(kbit(c.rateMbit * scale), kbit(ceil)));
    classes.push({
      classid: CLASS_IDS[name],
      parent: PARENT_CLASS,
      rateKbit,
      ceilKbit: kbit(ceil),
      prio: c.priority,
      label: name,
      burstBytes: burstBytes(rateKbit),
      cburstBytes: burstBytes(kbit(ceil)),
    });
    if (name === 'default') continue;
    const m = effectiveMatch(name, c);
    const pref = CLASS_PREFS[name];
    const flowid = CLASS_IDS[name];
    for (const d of m.dscp) filters.push({ pref, flowid, ...dscpMatch(d) });
    for (const p of m.ports) for (const f of portMatches(p, dir)) filters.push({ pref, flowid, ...f });
    for (const cidr of m.destinations) filters.push({ pref, flowid, ...addrMatch(parseIpv4Prefix(cidr) as Ipv4Prefix, dir === 'egress' ? 'dst' : 'src') });
  }
  const caps = (profile.caps ?? [])
    .map((cap) => {
      const target = cap.destination ?? cap.peer ?? '';
      const address = parseIpv4Prefix(target) ?? (opts.peerAddresses[target] ? parseIpv4Prefix(opts.peerAddresses[target]) : null);
      return { cap, target, address };
    })
    .filter((c): c is { cap: (typeof c)['cap']; target: string; address: Ipv4Prefix } => c.address !== null)
    // Most specific first, so a /32 cap inside a /24 cap wins.
    .sort((a, b) => b.address.length - a.address.length || u32Word(a.address) - u32Word(b.address));
  caps.forEach(({ cap, target, address }, i) => {
    const classid = `1:${(CAP_MINOR_BASE + i).toString(16)}`;
    const rate = Math.min(kbit(cap.rateMbit), kbit(rateMbit));
    classes.push({ classid, parent: PARENT_CLASS, rateKbit: rate, ceilKbit: rate, prio: profile.classes.default.priority, label: `cap ${target}`, burstBytes: burstBytes(rate), cburstBytes: burstBytes(rate) });
    filters.push({ pref: CAP_PREF_BASE + i, flowid: classid, ...addrMatch(address, dir === 'egress' ? 'dst' : 'src') });
  });
  const leaves: DesiredLeaf[] = opts.leaf
    ? classes.filter((c) => c.classid !== PARENT_CLASS).map((c) => ({ parent: c.classid, handle: `${c.classid.split(':')[1]}:`, kind: opts.leaf as LeafKind }))
    : [];
  const linkBytes = (rateMbit * 1e6) / 8;
  return { dev, defaultMinor: CLASS_IDS.default.split(':')[1], r2q: Math.max(10, Math.ceil(linkBytes / 200_000)), classes, filters, leaves };
}

const hex = (n: number) => `0x${n.toString(16)}`;

function dscpMatch(dscp: number): { keys: U32Key[]; matchArgs: string[] } {
  const tos = dscp << 2;
  return { keys: [{ off: 0, mask: 0x00fc0000, value: tos << 16 }], matchArgs: ['match', 'ip', 'tos', hex(tos), '0xfc'] };
}

function addrMatch(p: Ipv4Prefix, side: 'dst' | 'src'): { keys: U32Key[]; matchArgs: string[] } {
  return {
    keys: [{ off: side === 'dst' ? 16 : 12, mask: prefixMask(p.length), value: u32Word(p) }],
    matchArgs: ['match', 'ip', side, formatPrefix(p)],
  };
}

/** portBlocks splits an inclusive port range into aligned (value, mask) blocks u32 can match. */
export function portBlocks(from: number, to: number): Array<{ value: number; mask: number }> {
  const out: Array<{ value: number; mask: number }> = [];
  let start = from;
  while (start <= to) {
    let size = 1;
    while (size < 0x10000 && start % (size * 2) === 0 && start + size * 2 - 1 <= to) size *= 2;
    out.push({ value: start, mask: (0xffff & ~(size - 1)) >>> 0 });
    start += size;
  }
  return out;
}

function portMatches(p: PortMatch, dir: 'egress' | 'ingress'): Array<{ keys: U32Key[]; matchArgs: string[] }> {
  const proto = p.proto === 'udp' ? 17 : 6;
  const wantDst = (p.side ?? 'dst') === 'dst';
  const side = wantDst === (dir === 'egress') ? 'dport' : 'sport';
  return portBlocks(p.from, p.to ?? p.from).map(({ value, mask }) => ({
    keys: [
      { off: 8, mask: 0x00ff0000, value: proto << 16 },
      side === 'dport' ? { off: 20, mask, value } : { off: 20, mask: (mask << 16) >>> 0, value: (value << 16) >>> 0 },
    ],
    matchArgs: ['match', 'ip', 'protocol', String(proto), '0xff', 'match', 'ip', side, String(value), hex(mask)],
  }));
}
