/**
 * ShapingProfile: the four traffic classes of one node, how traffic is sorted into them, and the
 * checks that refuse a profile before it can touch a device.
 */
import { prefixesOverlap } from '@trellis/core/api';
import { shapingErrors } from './errors';
import { parseIpv4Prefix, type Ipv4Prefix } from './ipv4-prefix';

export const CLASS_NAMES = ['realtime', 'critical', 'default', 'bulk'] as const;
export type TrafficClassName = (typeof CLASS_NAMES)[number];

/** DSCP code points realtime matches when its profile names none: EF (46), CS4 (32), CS5 (40). */
export const REALTIME_DEFAULT_DSCP: readonly number[] = [46, 32, 40];

export interface PortMatch {
  proto: 'udp' | 'tcp';
  from: number;
  /** Inclusive; defaults to `from`. */
  to?: number;
  /** Which port of an egress packet to match: the remote service port (dst, default) or ours (src). */
  side?: 'dst' | 'src';
}

export interface ClassMatch {
  dscp?: number[];
  ports?: PortMatch[];
  /** IPv4 destinations, CIDR or bare address. */
  destinations?: string[];
}

export interface TrafficClass {
  /** Guaranteed rate. */
  rateMbit: number;
  /** The most the class may borrow up to. */
  ceilMbit: number;
  /** 0 is served first (HTB prio 0..7). */
  priority: number;
  match?: ClassMatch;
}

/** A hard limit for traffic to one peer (node name or ip/prefix) or one destination CIDR. */
export interface ShapingCap {
  peer?: string;
  destination?: string;
  rateMbit: number;
}

export interface ShapingProfile {
  name: string;
  /** Egress link rate. */
  linkRateMbit: number;
  /** When set, ingress is shaped on an ifb device at this rate. */
  ingressRateMbit?: number;
  classes: Record<TrafficClassName, TrafficClass>;
  caps?: ShapingCap[];
}

/** effectiveMatch is the match a class really uses: realtime gets the EF/CS4/CS5 defaults. */
export function effectiveMatch(name: TrafficClassName, cls: TrafficClass): Required<ClassMatch> {
  const m = cls.match ?? {};
  return {
    dscp: m.dscp ?? (name === 'realtime' ? [...REALTIME_DEFAULT_DSCP] : []),
    ports: m.ports ?? [],
    destinations: m.destinations ?? [],
  };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPosNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
const isPort = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;

/**
 * validateProfile lists every problem of a profile, each naming the field at fault; [] means valid.
 * It takes unknown because profiles arrive from config files and over the wire.
 */
export function validateProfile(input: unknown): string[] {
  if (!isObj(input)) return ['profile must be an object'];
  const p = input;
  const problems: string[] = [];
  if (typeof p.name !== 'string' || p.name.trim() === '') problems.push('name must be a non-empty string');
  const link = p.linkRateMbit;
  if (!isPosNum(link)) problems.push(`linkRateMbit must be a positive number, got ${JSON.stringify(link)}`);
  if (p.ingressRateMbit !== undefined && !isPosNum(p.ingressRateMbit)) {
    problems.push(`ingressRateMbit must be a positive number, got ${JSON.stringify(p.ingressRateMbit)}`);
  }
  if (!isObj(p.classes)) {
    problems.push('classes must be an object with realtime, critical, default and bulk');
    return problems;
  }
  for (const key of Object.keys(p.classes)) {
    if (!(CLASS_NAMES as readonly string[]).includes(key)) {
      problems.push(`unknown class "${key}"; the classes are ${CLASS_NAMES.join(', ')}`);
    }
  }
  let guaranteed = 0;
  const seen: Array<{ cls: string; kind: 'port'; proto: string; side: string; from: number; to: number } | { cls: string; kind: 'cidr'; text: string; prefix: Ipv4Prefix } | { cls: string; kind: 'dscp'; value: number }> = [];
  for (const name of CLASS_NAMES) {
    const c = p.classes[name];
    if (c === undefined) {
      problems.push(`class "${name}" is missing`);
      continue;
    }
    if (!isObj(c)) {
      problems.push(`class "${name}" must be an object`);
      continue;
    }
    const where = `class "${name}"`;
    if (!isPosNum(c.rateMbit)) problems.push(`${where}: rateMbit must be a positive number`);
    if (!isPosNum(c.ceilMbit)) problems.push(`${where}: ceilMbit must be a positive number`);
    if (!Number.isInteger(c.priority) || (c.priority as number) < 0 || (c.priority as number) > 7) {
      problems.push(`${where}: priority must be an integer from 0 (highest) to 7`);
    }
    if (isPosNum(c.rateMbit) && isPosNum(c.ceilMbit) && c.rateMbit > c.ceilMbit) {
      problems.push(`${where}: rate ${c.rateMbit} Mbit is above its ceiling ${c.ceilMbit} Mbit`);
    }
    if (isPosNum(c.ceilMbit) && isPosNum(link) && c.ceilMbit > link) {
      problems.push(`${where}: ceiling ${c.ceilMbit} Mbit is above the link rate ${link} Mbit`);
    }
    if (isPosNum(c.rateMbit)) guaranteed += c.rateMbit;
    if (c.match === undefined) continue;
    if (!isObj(c.match)) {
      problems.push(`${where}: match must be an object`);
      continue;
    }
    if (name === 'default') {
      problems.push('class "default" takes everything no other class matches; remove its match');
      continue;
    }
    const m = c.match;
    for (const key of Object.keys(m)) {
      if (!['dscp', 'ports', 'destinations'].includes(key)) problems.push(`${where}: unknown match "${key}" (use dscp, ports, destinations)`);
    }
    const dscp = m.dscp ?? (name === 'realtime' ? REALTIME_DEFAULT_DSCP : []);
    if (!Array.isArray(dscp)) problems.push(`${where}: match.dscp must be a list of numbers 0..63`);
    else
      for (const d of dscp) {
        if (!Number.isInteger(d) || d < 0 || d > 63) problems.push(`${where}: DSCP ${JSON.stringify(d)} is not a number from 0 to 63`);
        else seen.push({ cls: name, kind: 'dscp', value: d });
      }
    const ports = m.ports ?? [];
    if (!Array.isArray(ports)) problems.push(`${where}: match.ports must be a list`);
    else
      for (const pm of ports) {
        if (!isObj(pm)) {
          problems.push(`${where}: a port match must be an object { proto, from, to? }`);
          continue;
        }
        const to = pm.to ?? pm.from;
        const text = `${String(pm.proto)} ${String(pm.from)}${pm.to !== undefined ? `-${String(pm.to)}` : ''}`;
        if (pm.proto !== 'udp' && pm.proto !== 'tcp') problems.push(`${where}: port match "${text}" needs proto "udp" or "tcp"`);
        else if (!isPort(pm.from) || !isPort(to)) problems.push(`${where}: bad port "${text}"; ports are integers 1..65535`);
        else if (pm.from > to) problems.push(`${where}: bad port range "${text}"; from is above to`);
        else if (pm.side !== undefined && pm.side !== 'dst' && pm.side !== 'src') problems.push(`${where}: port match "${text}" side must be "dst" or "src"`);
        else seen.push({ cls: name, kind: 'port', proto: pm.proto, side: (pm.side as string) ?? 'dst', from: pm.from, to });
      }
    const dests = m.destinations ?? [];
    if (!Array.isArray(dests)) problems.push(`${where}: match.destinations must be a list of CIDRs`);
    else
      for (const d of dests) {
        const prefix = typeof d === 'string' ? parseIpv4Prefix(d) : null;
        if (!prefix) problems.push(`${where}: bad CIDR ${JSON.stringify(d)}; use an IPv4 prefix like 10.1.0.0/16`);
        else seen.push({ cls: name, kind: 'cidr', text: d as string, prefix });
      }
  }
  if (isPosNum(link) && guaranteed > link + 1e-9) {
    problems.push(`the guaranteed rates add up to ${round(guaranteed)} Mbit, above the link rate ${link} Mbit`);
  }
  for (let i = 0; i < seen.length; i++) {
    for (let j = i + 1; j < seen.length; j++) {
      const a = seen[i];
      const b = seen[j];
      if (a.cls === b.cls) continue;
      if (a.kind === 'dscp' && b.kind === 'dscp' && a.value === b.value) {
        problems.push(`DSCP ${a.value} is matched by both "${a.cls}" and "${b.cls}"`);
      } else if (a.kind === 'port' && b.kind === 'port' && a.proto === b.proto && a.side === b.side && a.from <= b.to && b.from <= a.to) {
        problems.push(`${a.proto} ports ${a.from}-${a.to} of "${a.cls}" overlap ${b.proto} ports ${b.from}-${b.to} of "${b.cls}"`);
      } else if (a.kind === 'cidr' && b.kind === 'cidr' && prefixesOverlap(a.prefix, b.prefix)) {
        problems.push(`destination ${a.text} of "${a.cls}" overlaps ${b.text} of "${b.cls}"`);
      }
    }
  }
  if (p.caps !== undefined) {
    if (!Array.isArray(p.caps)) problems.push('caps must be a list');
    else
      p.caps.forEach((cap: unknown, i: number) => {
        const where = `caps[${i}]`;
        if (!isObj(cap)) return void problems.push(`${where} must be an object { peer | destination, rateMbit }`);
        const has = (cap.peer !== undefined ? 1 : 0) + (cap.destination !== undefined ? 1 : 0);
        if (has !== 1) problems.push(`${where} needs exactly one of peer or destination`);
        if (cap.peer !== undefined && (typeof cap.peer !== 'string' || cap.peer.trim() === '')) problems.push(`${where}: peer must be a node name or an ip/prefix`);
        if (typeof cap.peer === 'string' && /^[\d.]+(\/\d+)?$/.test(cap.peer) && !parseIpv4Prefix(cap.peer)) problems.push(`${where}: bad peer address ${JSON.stringify(cap.peer)}`);
        if (cap.destination !== undefined && (typeof cap.destination !== 'string' || !parseIpv4Prefix(cap.destination))) {
          problems.push(`${where}: bad CIDR ${JSON.stringify(cap.destination)}; use an IPv4 prefix like 10.1.0.0/16`);
        }
        if (!isPosNum(cap.rateMbit)) problems.push(`${where}: rateMbit must be a positive number`);
        else if (isPosNum(link) && cap.rateMbit > link) problems.push(`${where}: rate ${cap.rateMbit} Mbit is above the link rate ${link} Mbit`);
      });
  }
  return problems;
}

/** parseProfile returns the profile typed, or throws TRELLIS_ERR_SHAPING_PROFILE_INVALID listing every problem. */
export function parseProfile(input: unknown): ShapingProfile {
  const problems = validateProfile(input);
  if (problems.length > 0) {
    const name = isObj(input) && typeof input.name === 'string' ? input.name : '(unnamed)';
    throw shapingErrors.profileInvalid(name, problems);
  }
  return input as unknown as ShapingProfile;
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
