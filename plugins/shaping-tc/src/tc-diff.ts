/**
 * tc-diff: the fewest tc commands that take a device from what it has to what a profile wants.
 * Same state → no command; one rate change → one `tc class change`. Nothing is flushed wholesale.
 */
import { INGRESS_HANDLE, INGRESS_REDIRECT_PREF, ROOT_HANDLE, type DesiredDevice, type DesiredFilter } from './desired-state';
import { keysId, type DeviceState, type TcClassState, type TcFilterState } from './tc-state';

export type Command = string[];

/** Relative tolerance when comparing rates, since tc prints them rounded. */
const RATE_TOLERANCE = 0.005;

const rateEq = (a: number, b: number) => Math.abs(a - b) <= Math.max(1, b * RATE_TOLERANCE);
const filterId = (f: { pref: number; flowid: string | null; keys: DesiredFilter['keys'] }) => `${f.pref}|${f.flowid}|${keysId(f.keys)}`;

function classArgs(c: DesiredDevice['classes'][number]): string[] {
  const args = ['htb', 'rate', `${c.rateKbit}kbit`, 'ceil', `${c.ceilKbit}kbit`, 'burst', `${c.burstBytes}b`, 'cburst', `${c.cburstBytes}b`];
  if (c.prio !== null) args.push('prio', String(c.prio));
  return args;
}

function classMatches(cur: TcClassState, want: DesiredDevice['classes'][number]): boolean {
  return rateEq(cur.rateKbit, want.rateKbit) && rateEq(cur.ceilKbit, want.ceilKbit) && (want.prio === null || cur.prio === want.prio);
}

/** isOurRoot is true when the device's root qdisc is an HTB at Trellis's fixed handle. */
export function isOurRoot(state: DeviceState): boolean {
  return state.qdiscs.some((q) => q.parent === 'root' && q.kind === 'htb' && q.handle === ROOT_HANDLE);
}

/** diffDevice returns the commands that make `current` (one device's HTB tree) equal `desired`. */
export function diffDevice(current: DeviceState, desired: DesiredDevice): Command[] {
  const dev = desired.dev;
  const cmds: Command[] = [];
  let cur = current;
  const root = current.qdiscs.find((q) => q.parent === 'root');
  if (!isOurRoot(current)) {
    // A foreign or default root qdisc is replaced; what hung below it goes with it.
    cmds.push(['tc', 'qdisc', 'replace', 'dev', dev, 'root', 'handle', ROOT_HANDLE, 'htb', 'default', desired.defaultMinor, 'r2q', String(desired.r2q)]);
    cur = { dev, qdiscs: [], classes: [], filters: [] };
  } else if (parseInt(String(root?.options.default ?? '0'), 16) !== parseInt(desired.defaultMinor, 16)) {
    cmds.push(['tc', 'qdisc', 'change', 'dev', dev, 'root', 'handle', ROOT_HANDLE, 'htb', 'default', desired.defaultMinor]);
  }

  const curClasses = new Map(cur.classes.map((c) => [c.classid, c]));
  const wanted = new Set(desired.classes.map((c) => c.classid));
  const reparented: string[] = [];
  for (const c of desired.classes) {
    const parentArg = c.parent === 'root' ? ROOT_HANDLE : c.parent;
    const have = curClasses.get(c.classid);
    if (!have) {
      cmds.push(['tc', 'class', 'add', 'dev', dev, 'parent', parentArg, 'classid', c.classid, ...classArgs(c)]);
    } else if (have.parent !== c.parent) {
      reparented.push(c.classid);
    } else if (!classMatches(have, c)) {
      cmds.push(['tc', 'class', 'change', 'dev', dev, 'parent', parentArg, 'classid', c.classid, ...classArgs(c)]);
    }
  }

  const curLeaves = new Map(cur.qdiscs.filter((q) => q.parent !== 'root' && q.parent !== 'ingress').map((q) => [q.parent, q]));
  for (const leaf of desired.leaves) {
    const have = curLeaves.get(leaf.parent);
    if (have?.kind === leaf.kind) continue;
    cmds.push(['tc', 'qdisc', have ? 'replace' : 'add', 'dev', dev, 'parent', leaf.parent, 'handle', leaf.handle, leaf.kind]);
  }

  const desiredIds = new Set(desired.filters.map(filterId));
  const currentFilters = cur.filters.filter((f) => f.parent === ROOT_HANDLE);
  const present = new Set<string>();
  for (const f of currentFilters) {
    const id = filterId(f);
    if (desiredIds.has(id) && !present.has(id) && f.kind === 'u32' && f.protocol === 'ip') present.add(id);
    else cmds.push(filterDel(dev, ROOT_HANDLE, f));
  }
  for (const f of desired.filters) {
    if (present.has(filterId(f))) continue;
    present.add(filterId(f));
    cmds.push(['tc', 'filter', 'add', 'dev', dev, 'parent', ROOT_HANDLE, 'protocol', 'ip', 'prio', String(f.pref), 'u32', ...f.matchArgs, 'flowid', f.flowid]);
  }

  // Deletions last, children before parents, once no filter points at them.
  const depth = (id: string): number => {
    const c = curClasses.get(id);
    return !c || c.parent === 'root' ? 0 : 1 + depth(c.parent);
  };
  const doomed = [...cur.classes.filter((c) => !wanted.has(c.classid)).map((c) => c.classid), ...reparented].sort((a, b) => depth(b) - depth(a));
  for (const id of doomed) cmds.push(['tc', 'class', 'del', 'dev', dev, 'classid', id]);
  for (const id of reparented) {
    const c = desired.classes.find((d) => d.classid === id);
    if (c) cmds.push(['tc', 'class', 'add', 'dev', dev, 'parent', c.parent === 'root' ? ROOT_HANDLE : c.parent, 'classid', c.classid, ...classArgs(c)]);
  }
  return cmds;
}

function filterDel(dev: string, parent: string, f: TcFilterState): Command {
  return ['tc', 'filter', 'del', 'dev', dev, 'parent', parent, 'protocol', f.protocol, 'prio', String(f.pref), 'handle', f.handle, f.kind];
}

/** The ingress side of the WireGuard interface: an ingress qdisc whose one filter redirects to the ifb. */
export interface IngressHookState {
  iface: DeviceState;
  ifb: { exists: boolean; up: boolean };
}

/**
 * diffIngressHook creates the ifb and the redirect (ifb non-null) or removes the redirect (null).
 * Removing the ifb itself is cleanup's job, since only an ifb Trellis created may go.
 */
export function diffIngressHook(current: IngressHookState, iface: string, ifb: string | null): Command[] {
  const cmds: Command[] = [];
  const hasIngress = current.iface.qdiscs.some((q) => q.kind === 'ingress');
  if (ifb === null) {
    if (hasIngress) cmds.push(['tc', 'qdisc', 'del', 'dev', iface, 'ingress']);
    return cmds;
  }
  if (!current.ifb.exists) cmds.push(['ip', 'link', 'add', ifb, 'type', 'ifb']);
  if (!current.ifb.up) cmds.push(['ip', 'link', 'set', ifb, 'up']);
  if (!hasIngress) cmds.push(['tc', 'qdisc', 'add', 'dev', iface, 'handle', INGRESS_HANDLE, 'ingress']);
  const filters = hasIngress ? current.iface.filters.filter((f) => f.parent === INGRESS_HANDLE) : [];
  let ok = false;
  for (const f of filters) {
    if (!ok && f.pref === INGRESS_REDIRECT_PREF && f.redirectTo === ifb && keysId(f.keys) === keysId([{ off: 0, mask: 0, value: 0 }])) ok = true;
    else if (f.pref === INGRESS_REDIRECT_PREF) cmds.push(filterDel(iface, INGRESS_HANDLE, f));
  }
  if (!ok) {
    cmds.push([
      'tc', 'filter', 'add', 'dev', iface, 'parent', INGRESS_HANDLE, 'protocol', 'all', 'prio', String(INGRESS_REDIRECT_PREF),
      'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', ifb,
    ]);
  }
  return cmds;
}
