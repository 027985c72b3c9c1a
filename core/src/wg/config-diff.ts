/**
 * diffWgConfig turns two WgConfigs into the few operations that take the device from one to the
 * other, so a reconfigure writes only changed peers and every other session survives. It runs in
 * O(peers) with Map lookups and validates only what it emits: unchanged peers were checked when
 * they were first written.
 */
import { isKey32 } from '../auth/keys';
import { errors } from '../errors';
import { canonicalCidr, canonicalEndpoint } from './cidr';
import type { WgConfig, WgPeerConfig } from './types';

/** WgPeerUpdate lists only the fields of an existing peer that change; absent means "leave it". */
export interface WgPeerUpdate {
  publicKey: string;
  /** Canonical ip:port. */
  endpoint?: string;
  /** Seconds; 0 disables. */
  persistentKeepalive?: number;
  /** The complete new set, canonical; replaces the old one. */
  allowedIps?: string[];
}

export interface WgConfigDiff {
  /** Set when the private key changes. */
  privateKey?: string;
  /** Set when the listen port changes (wireguard-go rebinds its socket on every write of it). */
  listenPort?: number;
  /** Set when the firewall mark changes (0: none). */
  fwmark?: number;
  /** New peers, canonical, sorted by public key. */
  add: WgPeerConfig[];
  /** Changed peers, sorted by public key. */
  update: WgPeerUpdate[];
  /** Public keys of peers to remove, sorted. */
  remove: string[];
}

/** isEmptyDiff is true when applying the diff would write nothing. */
export function isEmptyDiff(d: WgConfigDiff): boolean {
  return (
    d.privateKey === undefined && d.listenPort === undefined && d.fwmark === undefined && d.add.length === 0 && d.update.length === 0 && d.remove.length === 0
  );
}

/** summarizeDiff is the human line for logs and ReconfigureResult.summary. */
export function summarizeDiff(d: WgConfigDiff): string {
  if (isEmptyDiff(d)) return 'no changes';
  const iface: string[] = [];
  if (d.privateKey !== undefined) iface.push('private key');
  if (d.listenPort !== undefined) iface.push(`listen port ${d.listenPort}`);
  if (d.fwmark !== undefined) iface.push(`fwmark ${d.fwmark}`);
  const peers = `added ${d.add.length}, updated ${d.update.length}, removed ${d.remove.length} peers`;
  return iface.length > 0 ? `changed ${iface.join(', ')}; ${peers}` : peers;
}

function checkKey(key: string, where: string): void {
  if (!isKey32(key)) throw errors.configInvalid(where, 'expected base64 of a 32-byte WireGuard key');
}

function checkKeepalive(n: number, where: string): void {
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw errors.configInvalid(where, `persistentKeepalive ${n} must be an integer number of seconds in 0..65535`);
  }
}

function canonicalSet(cidrs: readonly string[], where: string): string[] {
  return [...new Set(cidrs.map((c) => canonicalCidr(c, where)))].sort();
}

function sameArray(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** canonicalPeer checks a peer and returns it in the form the device reports. */
export function canonicalPeer(p: WgPeerConfig): WgPeerConfig {
  const where = `peer ${p.publicKey}`;
  checkKey(p.publicKey, where);
  const keepalive = p.persistentKeepalive ?? 0;
  checkKeepalive(keepalive, where);
  const out: WgPeerConfig = {
    publicKey: p.publicKey,
    endpoint: p.endpoint === null ? null : canonicalEndpoint(p.endpoint, where),
    allowedIps: canonicalSet(p.allowedIps, where),
  };
  if (keepalive > 0) out.persistentKeepalive = keepalive;
  return out;
}

function byKey<T extends { publicKey: string }>(a: T, b: T): number {
  return a.publicKey < b.publicKey ? -1 : a.publicKey > b.publicKey ? 1 : 0;
}

function indexPeers(peers: readonly WgPeerConfig[], which: string): Map<string, WgPeerConfig> {
  const m = new Map<string, WgPeerConfig>();
  for (const p of peers) {
    if (m.has(p.publicKey)) throw errors.configInvalid(which, `peer ${p.publicKey} is listed twice`);
    m.set(p.publicKey, p);
  }
  return m;
}

function endpointOf(p: WgPeerConfig, where: string): string | null {
  return p.endpoint === null ? null : canonicalEndpoint(p.endpoint, where);
}

/**
 * diffPeer is the update that takes a peer from prev to next, or null when nothing differs.
 * A null endpoint in next means "let the peer reach us": the device keeps whatever endpoint it
 * learned, since clearing it would need removing the peer and its session.
 */
function diffPeer(prev: WgPeerConfig, next: WgPeerConfig): WgPeerUpdate | null {
  const where = `peer ${next.publicKey}`;
  const u: WgPeerUpdate = { publicKey: next.publicKey };
  let changed = false;
  if (next.endpoint !== null && next.endpoint !== prev.endpoint) {
    const ep = endpointOf(next, where);
    if (ep !== null && ep !== endpointOf(prev, where)) {
      u.endpoint = ep;
      changed = true;
    }
  }
  const ka = next.persistentKeepalive ?? 0;
  if (ka !== (prev.persistentKeepalive ?? 0)) {
    checkKeepalive(ka, where);
    u.persistentKeepalive = ka;
    changed = true;
  }
  if (!sameArray(prev.allowedIps, next.allowedIps)) {
    const a = canonicalSet(prev.allowedIps, `${where} (previous)`);
    const b = canonicalSet(next.allowedIps, where);
    if (!sameArray(a, b)) {
      u.allowedIps = b;
      changed = true;
    }
  }
  return changed ? u : null;
}

/** diffWgConfig computes the minimal operations from prev to next; throws CONFIG_INVALID for bad input in next. */
export function diffWgConfig(prev: WgConfig, next: WgConfig): WgConfigDiff {
  const d: WgConfigDiff = { add: [], update: [], remove: [] };
  if (next.privateKey !== prev.privateKey) {
    checkKey(next.privateKey, 'WgConfig.privateKey');
    d.privateKey = next.privateKey;
  }
  if (next.listenPort !== prev.listenPort) {
    if (!Number.isInteger(next.listenPort) || next.listenPort < 0 || next.listenPort > 65535) {
      throw errors.configInvalid('WgConfig.listenPort', `${next.listenPort} is not a UDP port in 0..65535`);
    }
    d.listenPort = next.listenPort;
  }
  if ((next.fwmark ?? 0) !== (prev.fwmark ?? 0)) {
    const mark = next.fwmark ?? 0;
    if (!Number.isInteger(mark) || mark < 0 || mark > 0xffffffff) throw errors.configInvalid('WgConfig.fwmark', `${mark} is not a 32-bit firewall mark`);
    d.fwmark = mark;
  }
  const before = indexPeers(prev.peers, 'previous WgConfig');
  const after = indexPeers(next.peers, 'WgConfig.peers');
  for (const p of next.peers) {
    const old = before.get(p.publicKey);
    if (old === undefined) {
      d.add.push(canonicalPeer(p));
      continue;
    }
    const u = diffPeer(old, p);
    if (u) d.update.push(u);
  }
  for (const p of prev.peers) if (!after.has(p.publicKey)) d.remove.push(p.publicKey);
  d.add.sort(byKey);
  d.update.sort(byKey);
  d.remove.sort();
  return d;
}
