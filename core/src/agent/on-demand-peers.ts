/**
 * OnDemandPeers: the remote spokes a spoke configures as WireGuard peers only while it talks to
 * them, so a hub forwards their traffic as a relay (ciphertext) instead of hop by hop (plaintext),
 * while a spoke still holds ~its hubs at rest (docs/hub-end-to-end.md).
 *
 * The map offers the remote spokes (map.onDemand) with the hubs whose relay forwarder serves the
 * pair. The device watches their overlay addresses and reports traffic to or from one (trellis-wg
 * `watch`/`demand`); the first packets still go through the hub. On demand the peer is added
 * *staged* (endpoint at the hub's relay, no allowed IPs, so traffic stays on the hub) and a
 * handshake asked for; once the device shows a handshake the peer *opens* (its /32 and /128 beat
 * the hub's overlay route by longest prefix). A peer without demand for idleMs is removed and its
 * traffic falls back to the hub. Both ends see every packet of the pair (one as outbound, the
 * other as inbound), so both add each other, and both go idle together.
 *
 * It only decides the extra peers; the agent merges them into toWgConfig's output
 * (withOnDemandPeers) and its reconfigure loop stays the one writer of the device.
 */
import type { Logger } from 'pino';
import type { NetworkMap, PeerNode } from '../netmap/types';
import type { WgConfig, WgPeerConfig, WgPeerStats } from '../wg/types';
import { PERSISTENT_KEEPALIVE } from './to-wg-config';
import { relayEndpointOf } from './paths/path-candidates';

/** What OnDemandPeers needs of the device (DeviceDatagramChannel; a fake in unit tests). */
export interface OnDemandDevice {
  watch(addresses: readonly string[], intervalMs?: number): Promise<void>;
  handshake(publicKey: string): Promise<void>;
}

/** A remote spoke this node may add, resolved against the map: its key, addresses and the relay endpoint. */
export interface OnDemandCandidate {
  id: string;
  name: string;
  wgKey: string;
  allowedIps: string[];
  /** The hub relay forwarder's "ip:port". */
  endpoint: string;
  /** The hub whose relay it is. */
  via: string;
}

export interface OnDemandPeersOptions {
  device: OnDemandDevice;
  log: Logger;
  /** Called when peers() changed: the agent queues a reconfigure. */
  changed: () => void;
  now?: () => number;
  /** An open peer without demand this long is removed (default 60 s). */
  idleMs?: number;
  /** A staged peer that never completes a handshake is dropped after this; its traffic stays on the hub (default 20 s). */
  handshakeTimeoutMs?: number;
  /** At most this many on-demand peers; the least recently active one makes room (default 64). */
  maxPeers?: number;
  /** The device reports an address at most once per direction per interval (default 1 s). */
  demandIntervalMs?: number;
}

/** OnDemandStatus: figures for `trellis status` and the metrics. */
export interface OnDemandStatus {
  /** Remote spokes the map offers (watched addresses come from them). */
  candidates: number;
  staged: number;
  open: number;
  /** Totals since start: added on demand, removed idle, dropped without a handshake, evicted for room. */
  added: number;
  removedIdle: number;
  handshakeFailed: number;
  evicted: number;
}

type PeerState = 'staged' | 'open';

interface ActivePeer {
  cand: OnDemandCandidate;
  state: PeerState;
  since: number;
  lastDemand: number;
  lastAsk: number;
}

/** WireGuard sends at most one initiation per peer every 5 s (RekeyTimeout): asking more often is useless. */
const HANDSHAKE_ASK_MS = 5000;

function hostOf(prefix: string): string {
  const i = prefix.indexOf('/');
  return i < 0 ? prefix : prefix.slice(0, i);
}


/**
 * onDemandCandidates resolves the map's on-demand entries: the relay endpoint is the first listed
 * hub that is a peer of this node, online, offers a relay and has an endpoint (relayEndpointOf, as
 * the path prober registers with it); the first such hub when none is online. Entries without one, and
 * nodes that are peers anyway, are left out.
 */
export function onDemandCandidates(map: NetworkMap): OnDemandCandidate[] {
  const peers = new Map(map.peers.map((p) => [p.id, p]));
  const peerKeys = new Set(map.peers.map((p) => p.wgKey));
  const out: OnDemandCandidate[] = [];
  for (const o of map.onDemand ?? []) {
    if (o.id === map.self.id || o.wgKey === map.self.wgKey || peerKeys.has(o.wgKey)) continue;
    // The first listed hub that is online (the controller lists them in the order spokes prefer), else the first at all.
    let pick: { hubId: string; endpoint: string } | null = null;
    for (const hubId of o.via) {
      const hub = peers.get(hubId);
      const endpoint = hub ? relayEndpointOf(hub as PeerNode) : null;
      if (endpoint === null) continue;
      if (pick === null) pick = { hubId, endpoint };
      if (hub!.online) {
        pick = { hubId, endpoint };
        break;
      }
    }
    if (pick) out.push({ id: o.id, name: o.name, wgKey: o.wgKey, allowedIps: [...o.allowedIps], endpoint: pick.endpoint, via: pick.hubId });
  }
  return out;
}

/** withOnDemandPeers adds the on-demand peers to a WgConfig (never over a peer it has), sorted as toWgConfig sorts. */
export function withOnDemandPeers(cfg: WgConfig, extra: readonly WgPeerConfig[]): WgConfig {
  if (extra.length === 0) return cfg;
  const have = new Set(cfg.peers.map((p) => p.publicKey));
  const peers = [...cfg.peers, ...extra.filter((p) => !have.has(p.publicKey))];
  peers.sort((a, b) => (a.publicKey < b.publicKey ? -1 : a.publicKey > b.publicKey ? 1 : 0));
  return { ...cfg, peers };
}

export class OnDemandPeers {
  private candidates = new Map<string, OnDemandCandidate>();
  private byAddress = new Map<string, OnDemandCandidate>();
  private active = new Map<string, ActivePeer>();
  private watched: string | null = null;
  private totals = { added: 0, removedIdle: 0, handshakeFailed: 0, evicted: 0 };
  private readonly now: () => number;
  private readonly idleMs: number;
  private readonly handshakeTimeoutMs: number;
  private readonly maxPeers: number;

  constructor(private readonly o: OnDemandPeersOptions) {
    this.now = o.now ?? Date.now;
    this.idleMs = o.idleMs ?? 60_000;
    this.handshakeTimeoutMs = o.handshakeTimeoutMs ?? 20_000;
    this.maxPeers = o.maxPeers ?? 64;
  }

  /**
   * setMap takes the map's offer: the device watches the candidates' addresses (sent only when
   * they changed); an active peer whose candidate left, or whose key or relay moved, is removed
   * or updated. Rejects when the device refuses the watch (the previous set stays there).
   */
  async setMap(map: NetworkMap): Promise<void> {
    const next = onDemandCandidates(map);
    this.candidates = new Map(next.map((c) => [c.id, c]));
    this.byAddress = new Map(next.flatMap((c) => c.allowedIps.map((ip) => [hostOf(ip), c] as const)));
    let changed = false;
    for (const [id, a] of this.active) {
      const c = this.candidates.get(id);
      if (!c || c.wgKey !== a.cand.wgKey) {
        this.active.delete(id);
        changed = true;
      } else if (c.endpoint !== a.cand.endpoint || c.allowedIps.join() !== a.cand.allowedIps.join()) {
        a.cand = c;
        changed = true;
      }
    }
    if (changed) this.o.changed();
    const addresses = [...this.byAddress.keys()].sort();
    const key = addresses.join(' ');
    if (key !== this.watched) {
      await this.o.device.watch(addresses, this.o.demandIntervalMs);
      this.watched = key;
    }
  }

  /** onDemand takes one device report: a candidate's traffic adds it (staged), an active one's keeps it alive. */
  onDemand(d: { direction: 'outbound' | 'inbound'; address: string }): void {
    const c = this.byAddress.get(d.address);
    if (!c) return;
    const now = this.now();
    const a = this.active.get(c.id);
    if (a) {
      a.lastDemand = now;
      return;
    }
    if (this.active.size >= this.maxPeers) this.evictOne();
    this.active.set(c.id, { cand: c, state: 'staged', since: now, lastDemand: now, lastAsk: -Infinity });
    this.totals.added++;
    this.o.log.info({ peer: c.name, via: c.via, direction: d.direction }, 'on-demand peer added through the hub relay; traffic stays on the hub until it handshakes');
    this.o.changed();
  }

  /**
   * tick runs after the device's peer stats were read: staged peers with a handshake open, those
   * still without one are asked for one (or dropped after handshakeTimeoutMs), idle ones go.
   */
  async tick(stats: readonly WgPeerStats[]): Promise<void> {
    const byKey = new Map(stats.map((s) => [s.publicKey, s]));
    const now = this.now();
    let changed = false;
    const asks: string[] = [];
    for (const [id, a] of this.active) {
      const st = byKey.get(a.cand.wgKey);
      if (now - a.lastDemand > this.idleMs) {
        this.active.delete(id);
        this.totals.removedIdle++;
        changed = true;
        this.o.log.info({ peer: a.cand.name, idleMs: this.idleMs }, 'on-demand peer idle: removed; its traffic goes through the hub again');
        continue;
      }
      if (a.state !== 'staged') continue;
      if (st && st.lastHandshake !== null && st.lastHandshake >= a.since - 1000) {
        a.state = 'open';
        changed = true;
        this.o.log.info({ peer: a.cand.name, via: a.cand.via }, 'on-demand peer open: end to end through the hub relay');
      } else if (now - a.since > this.handshakeTimeoutMs) {
        this.active.delete(id);
        this.totals.handshakeFailed++;
        changed = true;
        this.o.log.warn({ peer: a.cand.name, via: a.cand.via }, 'on-demand peer did not handshake through the hub relay: removed; its traffic stays on the hub');
      } else if (st && now - a.lastAsk >= HANDSHAKE_ASK_MS) {
        a.lastAsk = now;
        asks.push(a.cand.wgKey);
      }
    }
    if (changed) this.o.changed();
    for (const k of asks) await this.o.device.handshake(k).catch((err: Error) => this.o.log.debug({ err: err.message }, 'on-demand handshake request failed'));
  }

  /** peers are the WireGuard peers to add: staged ones without allowed IPs, open ones with theirs. */
  peers(): WgPeerConfig[] {
    return [...this.active.values()].map((a) => ({
      publicKey: a.cand.wgKey,
      endpoint: a.cand.endpoint,
      allowedIps: a.state === 'open' ? [...a.cand.allowedIps] : [],
      persistentKeepalive: PERSISTENT_KEEPALIVE,
    }));
  }

  /** hasStaged: a peer waits for its handshake (the agent then reads the stats often, so both ends open close together). */
  hasStaged(): boolean {
    for (const a of this.active.values()) if (a.state === 'staged') return true;
    return false;
  }

  status(): OnDemandStatus {
    let staged = 0;
    for (const a of this.active.values()) if (a.state === 'staged') staged++;
    return { candidates: this.candidates.size, staged, open: this.active.size - staged, ...this.totals };
  }

  private evictOne(): void {
    let oldest: [string, ActivePeer] | null = null;
    for (const e of this.active) if (!oldest || e[1].lastDemand < oldest[1].lastDemand) oldest = e;
    if (!oldest) return;
    this.active.delete(oldest[0]);
    this.totals.evicted++;
    this.o.log.info({ peer: oldest[1].cand.name, maxPeers: this.maxPeers }, 'on-demand peer evicted to make room; its traffic goes through the hub');
  }
}
