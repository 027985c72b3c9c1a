/**
 * The lab's topology options (`lab up --nat n1=easy,n2=hard --relays n3 --uplinks n4=2`), checked
 * before anything is made: every name must be one of the lab's nodes, every value valid, and no
 * node both behind a NAT and on several links. planTopology turns them into one plan per node.
 */
import { errors } from '../errors';
import { MAX_UPLINKS, type LabNatType } from './lab-state';

export interface LabTopologyOptions {
  /** Node name → NAT type: the node sits behind its own router with MASQUERADE. */
  nat?: Readonly<Record<string, string>>;
  /** Nodes started with `trellis up --relay`. */
  relays?: readonly string[];
  /** Node name → number of underlay links (1..4). */
  uplinks?: Readonly<Record<string, number>>;
}

export interface LabNodePlan {
  name: string;
  index: number;
  nat: LabNatType | null;
  relay: boolean;
  links: number;
}

const NAT_TYPES: readonly string[] = ['easy', 'hard'];

/** planTopology checks the options against nodes n1..n<count> and returns one plan per node. */
export function planTopology(count: number, t: LabTopologyOptions): LabNodePlan[] {
  const names = Array.from({ length: count }, (_, i) => `n${i + 1}`);
  const known = (flag: string, name: string) => {
    if (!names.includes(name)) {
      throw errors.lab(`${flag} names "${name}", which is not a node of this lab (nodes: ${names.length <= 6 ? names.join(', ') : `n1..n${count}`}); nothing was started`);
    }
  };
  for (const [name, type] of Object.entries(t.nat ?? {})) {
    known('--nat', name);
    if (!NAT_TYPES.includes(type)) throw errors.lab(`--nat ${name}=${type}: the NAT type is easy or hard; nothing was started`);
  }
  const relays = t.relays ?? [];
  for (const name of relays) known('--relays', name);
  const twice = relays.find((r, i) => relays.indexOf(r) !== i);
  if (twice !== undefined) throw errors.lab(`--relays lists "${twice}" twice; flag each relay once; nothing was started`);
  for (const [name, links] of Object.entries(t.uplinks ?? {})) {
    known('--uplinks', name);
    if (!Number.isInteger(links) || links < 1 || links > MAX_UPLINKS) {
      throw errors.lab(`--uplinks ${name}=${links}: a node has 1 to ${MAX_UPLINKS} underlay links; nothing was started`);
    }
    if (links > 1 && t.nat?.[name] !== undefined) {
      throw errors.lab(`${name} is given both --nat and --uplinks; a node behind a lab NAT has one link, through its router; nothing was started`);
    }
  }
  return names.map((name, i) => ({
    name,
    index: i + 1,
    nat: (t.nat?.[name] as LabNatType | undefined) ?? null,
    relay: relays.includes(name),
    links: t.uplinks?.[name] ?? 1,
  }));
}

/**
 * labHubSelected: a hubs selector of the lab's topology names this lab node (node:<name> or *).
 * Lab nodes carry no tags, groups or users a selector could match otherwise.
 */
export function labHubSelected(hubs: readonly string[], name: string): boolean {
  return hubs.some((s) => s === '*' || s === `node:${name}`);
}
