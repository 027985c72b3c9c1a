/**
 * Topology: which pairs of nodes get a direct WireGuard tunnel, decided before maps are built. Each
 * node gets a role from the topology's selectors (hub, or a spoke with the `direct` selectors it
 * matches); whether two nodes are peers then depends on their roles and on whether access allows
 * the pair, never on anything else, so the AccessIndex can fold the role into a node's class.
 *
 *   peers(a, b) = (access(a, b) and direct(a, b)) or (exactly one of a, b is a hub)
 *
 * Hubs are peers of every spoke whatever the access policy says (they carry other pairs' traffic),
 * but their packet filters still only accept what access allows, and a spoke's traffic through a
 * hub still meets the destination's filter: the topology never widens access.
 */
import { errors } from '../errors';
import type { NodeInfo } from '../api/node-info';
import type { HubForwarding, TopologyConfig, TopologyMode } from '../api/routes';

export const TOPOLOGY_MODES: readonly TopologyMode[] = ['full', 'hub-and-spoke', 'partial', 'hybrid'];
export const HUB_FORWARDINGS: readonly HubForwarding[] = ['hop-by-hop', 'end-to-end'];

const SELECTOR = /^(\*|(tag|node|group|user):[A-Za-z0-9@][A-Za-z0-9:@_.-]{0,127})$/;

/** The role of every node in a full mesh (one role: direct with everyone). */
export const FULL_ROLE = '';
const HUB_ROLE = 'H';

function selectorMatches(s: string, n: NodeInfo): boolean {
  if (s === '*') return true;
  const i = s.indexOf(':');
  const kind = s.slice(0, i);
  const name = s.slice(i + 1);
  switch (kind) {
    case 'tag':
      return n.tags.includes(s) || n.tags.includes(name);
    case 'node':
      return n.name === name || n.id === name;
    case 'group':
      return n.groups.includes(name) || n.groups.includes(s);
    case 'user':
      return n.user === name;
    default:
      return false;
  }
}

/**
 * parseTopology checks a topology (from the controller config or a policy) and returns it in a
 * canonical shape, or throws CONFIG_INVALID naming what is wrong at `where`.
 */
export function parseTopology(value: unknown, where: string): TopologyConfig {
  const bad = (what: string) => errors.configInvalid(where, what);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('topology must be an object such as {mode: hub-and-spoke, hubs: [tag:hub]}');
  const v = value as Record<string, unknown>;
  for (const k of Object.keys(v)) if (!['mode', 'hubs', 'direct', 'hubForwarding'].includes(k)) throw bad(`topology has an unknown key "${k}" (known: mode, hubs, direct, hubForwarding)`);
  const mode = v.mode ?? 'full';
  if (typeof mode !== 'string' || !TOPOLOGY_MODES.includes(mode as TopologyMode)) throw bad(`topology.mode ${JSON.stringify(mode)} is not one of ${TOPOLOGY_MODES.join(', ')}`);
  const selector = (s: unknown, at: string): string => {
    if (typeof s !== 'string' || !SELECTOR.test(s)) throw bad(`${at} ${JSON.stringify(s)} is not a selector: tag:<name>, node:<name>, group:<name>, user:<name> or *`);
    return s;
  };
  if (v.hubs !== undefined && !Array.isArray(v.hubs)) throw bad('topology.hubs must be a list of selectors');
  const hubs = ((v.hubs as unknown[] | undefined) ?? []).map((s, i) => selector(s, `topology.hubs[${i}]`));
  if (v.direct !== undefined && !Array.isArray(v.direct)) throw bad('topology.direct must be a list of selectors or [selector, selector] pairs');
  const direct = ((v.direct as unknown[] | undefined) ?? []).map((d, i): string | readonly [string, string] => {
    if (Array.isArray(d)) {
      if (d.length !== 2) throw bad(`topology.direct[${i}] must be a selector or a pair [a, b], not a list of ${d.length}`);
      return Object.freeze([selector(d[0], `topology.direct[${i}][0]`), selector(d[1], `topology.direct[${i}][1]`)] as const);
    }
    return selector(d, `topology.direct[${i}]`);
  });
  const m = mode as TopologyMode;
  if (m === 'full' && (hubs.length > 0 || direct.length > 0)) throw bad('topology.mode full takes no hubs or direct links (every allowed pair is direct); choose hub-and-spoke, partial or hybrid');
  if (m === 'hub-and-spoke' && hubs.length === 0) throw bad('topology.mode hub-and-spoke needs at least one selector in topology.hubs');
  if (m === 'hub-and-spoke' && direct.length > 0) throw bad('topology.mode hub-and-spoke takes no direct links; use hybrid for hubs plus direct links');
  if (m === 'partial' && direct.length === 0) throw bad('topology.mode partial needs topology.direct: the tags or sites whose nodes get direct tunnels');
  if (m === 'partial' && direct.some((d) => Array.isArray(d))) throw bad('topology.mode partial takes single selectors in topology.direct; links between two sites are hybrid');
  if (m === 'hybrid' && (hubs.length === 0 || direct.length === 0)) throw bad('topology.mode hybrid needs both topology.hubs and topology.direct');
  const fwd = v.hubForwarding;
  if (fwd !== undefined && (typeof fwd !== 'string' || !HUB_FORWARDINGS.includes(fwd as HubForwarding))) {
    throw bad(`topology.hubForwarding ${JSON.stringify(fwd)} is not one of ${HUB_FORWARDINGS.join(', ')}`);
  }
  if (fwd === 'end-to-end' && hubs.length === 0) throw bad('topology.hubForwarding end-to-end needs hubs (topology.hubs): it says how hubs forward between spokes');
  const base = { mode: m, hubs: Object.freeze(hubs), direct: Object.freeze(direct) };
  // hop-by-hop is the default and is left out, so configs from before the option compare equal.
  return Object.freeze(fwd === 'end-to-end' ? { ...base, hubForwarding: 'end-to-end' as const } : base);
}

/** PairPath: how two nodes talk, decided before maps are built. */
export type PairPath = { kind: 'direct' } | { kind: 'hub'; hub: string } | { kind: 'none' };

const DIRECT: PairPath = Object.freeze({ kind: 'direct' });
const NONE: PairPath = Object.freeze({ kind: 'none' });

/** Where a topology in force came from: the controller (config file or `trellis topology set`) or the policy. */
export type TopologySource = 'config' | 'policy';

/** Topology answers the per-node and per-pair questions of one TopologyConfig. */
export class Topology {
  /** Distinct selectors of `direct`, in first-seen order: bit i of a spoke's role is selectors[i]. */
  private readonly selectors: string[] = [];
  /** Each direct entry as selector positions. */
  private readonly links: Array<[number, number]> = [];
  private readonly directCache = new Map<string, boolean>();

  constructor(
    readonly config: TopologyConfig,
    readonly source: TopologySource = 'config',
    /** The policy version it came from (source policy). */
    readonly version: string | null = null,
  ) {
    const pos = (s: string) => {
      let i = this.selectors.indexOf(s);
      if (i < 0) i = this.selectors.push(s) - 1;
      return i;
    };
    for (const d of config.direct ?? []) {
      if (typeof d === 'string') this.links.push([pos(d), pos(d)]);
      else this.links.push([pos(d[0]), pos(d[1])]);
    }
    // partial: the listed tags or sites form one mesh, every listed node direct with every other.
    if (config.mode === 'partial') {
      const n = this.selectors.length;
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) this.links.push([i, j]);
    }
  }

  get mode(): TopologyMode {
    return this.config.mode;
  }

  /** isFull: every allowed pair is direct (no roles). */
  get isFull(): boolean {
    return this.config.mode === 'full';
  }

  get hasHubs(): boolean {
    return (this.config.hubs ?? []).length > 0;
  }

  /**
   * endToEnd: hubs keep end-to-end encryption: spokes that talk through a hub add each other on
   * demand, the hub's relay forwarding their WireGuard datagrams (maps carry onDemand).
   */
  get endToEnd(): boolean {
    return this.config.hubForwarding === 'end-to-end' && this.hasHubs;
  }

  /** roleOf: FULL_ROLE in a full mesh, "H" for a hub, else "S" and one bit per direct selector. */
  roleOf(n: NodeInfo): string {
    if (this.isFull) return FULL_ROLE;
    if ((this.config.hubs ?? []).some((s) => selectorMatches(s, n))) return HUB_ROLE;
    let bits = 'S';
    for (const s of this.selectors) bits += selectorMatches(s, n) ? '1' : '0';
    return bits;
  }

  /** hubRank orders hubs for the choice of the active one: the first hubs selector a node matches, or -1. */
  hubRank(n: NodeInfo): number {
    return (this.config.hubs ?? []).findIndex((s) => selectorMatches(s, n));
  }

  static isHub(role: string): boolean {
    return role === HUB_ROLE;
  }

  /** direct: two nodes of these roles may have a direct tunnel (when access allows the pair). */
  direct(a: string, b: string): boolean {
    if (a === FULL_ROLE || b === FULL_ROLE) return true;
    if (a === HUB_ROLE || b === HUB_ROLE) return true;
    const key = a < b ? `${a}|${b}` : `${b}|${a}`;
    let d = this.directCache.get(key);
    if (d === undefined) {
      d = this.links.some(([x, y]) => (a[1 + x] === '1' && b[1 + y] === '1') || (a[1 + y] === '1' && b[1 + x] === '1'));
      this.directCache.set(key, d);
    }
    return d;
  }

  /** transit: one end is a hub and the other is not: they are peers whatever access says. */
  static transit(a: string, b: string): boolean {
    return (a === HUB_ROLE) !== (b === HUB_ROLE);
  }

  /**
   * path decides one pair: a pair access does not allow never talks (the topology never widens
   * access); a full mesh, a pair with a hub in it and a pair of linked sites talk directly; any
   * other pair goes through the active hub, and cannot talk when the topology has none.
   */
  path(a: string, b: string, accessAllows: boolean, activeHub: string | null): PairPath {
    if (!accessAllows) return NONE;
    if (this.direct(a, b)) return DIRECT;
    return activeHub === null ? NONE : { kind: 'hub', hub: activeHub };
  }

  /** roleName is the role as people read it: full, hub or spoke. */
  static roleName(role: string): 'full' | 'hub' | 'spoke' {
    return role === FULL_ROLE ? 'full' : role === HUB_ROLE ? 'hub' : 'spoke';
  }

  /** describe is one line for logs and `trellis routes`. */
  describe(): string {
    const c = this.config;
    if (c.mode === 'full') return 'full mesh';
    const parts: string[] = [c.mode];
    if ((c.hubs ?? []).length > 0) parts.push(`hubs ${c.hubs!.join(', ')}`);
    if ((c.direct ?? []).length > 0) parts.push(`direct ${c.direct!.map((d) => (typeof d === 'string' ? d : `${d[0]}<->${d[1]}`)).join(', ')}`);
    if (this.endToEnd) parts.push('hubs forward end to end');
    return parts.join('; ');
  }
}

/** A hub as chooseHub weighs it. */
export interface HubCandidate {
  id: string;
  /** Position of the first `hubs` selector it matches (hubRank). */
  rank: number;
  online: boolean;
}

/**
 * chooseHub picks the hub every spoke sends other pairs' traffic through: the online hub with the
 * lowest rank (then id), so all spokes agree and no hub needs to forward to another; when none is
 * online, the first by rank, so routes are in place when it returns. null without hubs.
 */
export function chooseHub(hubs: readonly HubCandidate[]): string | null {
  let best: HubCandidate | null = null;
  for (const h of hubs) {
    if (best === null) best = h;
    else if (h.online !== best.online) best = h.online ? h : best;
    else if (h.rank < best.rank || (h.rank === best.rank && h.id < best.id)) best = h;
  }
  return best?.id ?? null;
}

/**
 * unmatchedSelectors lists the hubs and direct selectors of a topology that match none of the
 * nodes: a hub that does not exist, or a partial list naming an unknown tag or site.
 */
export function unmatchedSelectors(config: TopologyConfig, nodes: readonly NodeInfo[]): string[] {
  const out: string[] = [];
  const check = (s: string, at: string) => {
    if (!nodes.some((n) => selectorMatches(s, n)) && !out.some((o) => o.endsWith(`"${s}"`))) out.push(`${at} "${s}"`);
  };
  (config.hubs ?? []).forEach((s, i) => check(s, `topology.hubs[${i}]`));
  (config.direct ?? []).forEach((d, i) => {
    if (typeof d === 'string') check(d, `topology.direct[${i}]`);
    else d.forEach((s, j) => check(s, `topology.direct[${i}][${j}]`));
  });
  return out;
}

/** FULL_MESH_TOPOLOGY: the default. */
export const FULL_MESH_TOPOLOGY = new Topology(Object.freeze({ mode: 'full' as const }));
