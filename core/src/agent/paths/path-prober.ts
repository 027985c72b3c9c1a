/**
 * PathProber measures every candidate path to every peer with disco pings on the WireGuard socket
 * (through trellis-wg's control socket), and keeps each pair on the path choosePath picks:
 *
 * - Hole punching: a peer that appears is pinged on all its candidates at once; the peer does the
 *   same from its map, so the first pings open both NATs' mappings for the answers.
 * - Probing: the active path ~5 Hz, other live ones 1 Hz, dead ones every 3 s; relays are pinged
 *   directly every 2 s so they know (and keep open) this node's address, and answer with the
 *   address they saw (a reflexive address per path).
 * - Symmetry: the node with the lower id decides; it sets WireGuard's endpoint (only `endpoint=`,
 *   or a new session when moving onto a relay, which forwards only sessions it saw begin) and
 *   announces the path in a disco "path" message over that path, every 2 s. The other node
 *   adopts the path the message came over. Nothing here needs the controller.
 * - Roaming: a ping from an address the peer never advertised makes that address a candidate
 *   (peer-reflexive), so a node that moved is probed, found live, and failed over to.
 * - Drift: WireGuard moves a peer's endpoint to wherever an authenticated datagram last came
 *   from, a late one over the path just left too (a relay still forwarding the peer's old
 *   session); both sides may then settle on that path while the choice says another. Every
 *   second the device's endpoints are read; one that differs from the chosen path while that
 *   path answers (and, on the follower, while the deciding peer still announces it) is written
 *   back, and counted. A chosen path that stopped answering is left to the choice: the device
 *   following the peer's new address is roaming, not drift.
 *
 * Every decision runs in tick(), driven by a timer (or a test's fake clock).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { DiscoType, decodeObservedAddress, discoPairKey, encodeObservedAddress, openDisco, parseDiscoHeader, sealDisco } from '../../disco';
import type { NetworkMap, PeerNode } from '../../netmap/types';
import { DEFAULT_PATH_CHOICE, INITIAL_PATH_CHOICE, choosePath, isLive, pathCost, type PathChoiceConfig, type PathChoiceState, type PathFigures } from '../../paths';
import { formatUdpEndpoint, parseUdpEndpoint } from '../../wg/control-frame';
import { PeerWindow } from '../probes/peer-window';
import { directCandidateId, pathCandidates, relaysOf, type PathCandidate, type RelayTarget } from './path-candidates';
import { decodePathAnnouncement, encodePathAnnouncement, type PathAnnouncement } from './path-message';
import type { DiscoDropReason, PathCandidateStatus, PathSwitchEvent, PeerPathStatus, RelayPathStatus } from '../../wire/path-status';

export type { PathSwitchEvent };

/** The part of DeviceDatagramChannel the prober uses (a fake in unit tests). */
export interface DiscoChannel {
  on(event: 'datagram', listener: (d: { kind: 'stun' | 'disco'; from: string; payload: Buffer }) => void): unknown;
  off(event: 'datagram', listener: (d: { kind: 'stun' | 'disco'; from: string; payload: Buffer }) => void): unknown;
  send(to: string, payload: Uint8Array, from?: string): Promise<void>;
}

export interface PathProberTiming {
  tickMs: number;
  activeProbeMs: number;
  liveProbeMs: number;
  deadProbeMs: number;
  relayPingMs: number;
  announceMs: number;
  /** A probe unanswered this long is lost. */
  probeTimeoutMs: number;
  /** Probes per candidate window. */
  windowSize: number;
  /** How often the device's endpoints are compared with the chosen paths. */
  endpointCheckMs: number;
  /** A device endpoint that differs from the chosen path this long (and the path answers since) is written back. */
  reassertAfterMs: number;
}

export const DEFAULT_PROBER_TIMING: PathProberTiming = {
  tickMs: 100,
  activeProbeMs: 200,
  liveProbeMs: 1000,
  deadProbeMs: 3000,
  relayPingMs: 2000,
  announceMs: 2000,
  probeTimeoutMs: 1000,
  windowSize: 20,
  endpointCheckMs: 1000,
  reassertAfterMs: 1000,
};

/** The device, as the drift check sees it (WgDevice.stats and Reconfigurer.reassertEndpoints in the agent; a fake in unit tests). */
export interface PathDevice {
  /** Public key → the endpoint the device holds now (null: none); peers not on the device are absent. */
  endpoints(): Promise<ReadonlyMap<string, string | null>>;
  /** Write the chosen endpoints again for these peers (public key → the endpoint the device holds instead). */
  reassert(found: ReadonlyMap<string, string | null>): Promise<void>;
}

/** An endpoint written back because the device's had drifted from the chosen path. */
export interface EndpointReassertEvent {
  at: number;
  peerId: string;
  peerName: string;
  /** 'direct' or the relay's name: the chosen path. */
  label: string;
  chosen: string;
  /** What the device held instead (null: no endpoint). */
  found: string | null;
}

export interface PathProberOptions {
  channel: DiscoChannel;
  self: () => { id: string; wgKey: string; privateKey: string };
  /** Write the endpoints of endpointOverrides() to the device, restarting these peers' sessions. */
  apply: (rehandshake: string[]) => Promise<void>;
  onSwitch?: (e: PathSwitchEvent) => void;
  /** Reads and corrects the device's endpoints (the drift check); absent: no check. */
  device?: PathDevice;
  onReassert?: (e: EndpointReassertEvent) => void;
  log: Logger;
  /** Wall clock, ms (decisions, timestamps). */
  now?: () => number;
  /** Monotonic clock, µs, for RTTs (default performance.now). */
  nowUs?: () => number;
  timing?: Partial<PathProberTiming>;
  choice?: PathChoiceConfig;
}

/** A pong answers on the underlay with no session to wait for: the first one's RTT counts too. */
const DISCO_WINDOW = { measureOpeningReply: true } as const;

interface CandidateState {
  cand: PathCandidate;
  window: PeerWindow;
  seq: number;
  lastSentAt: number;
  lastReplyAt: number | null;
  addedAt: number;
}

interface PeerState {
  peer: PeerNode;
  leader: boolean;
  candidates: Map<string, CandidateState>;
  choice: PathChoiceState;
  reason: string;
  /** The endpoint written for the peer (override), null while the map's default stands. */
  endpoint: string | null;
  activeId: string | null;
  lastSwitch: PathSwitchEvent | null;
  switches: number;
  lastAnnounceAt: number;
  /** Follower: timestamp (µs) of the last path message adopted. */
  lastAnnouncementUs: bigint;
  /** Since when the pair has been on a relay (any relay), null on a direct path. */
  relayedSince: number | null;
  /** The active path's last sign of life when every other candidate was last asked because it went silent. */
  suspectedAt: number | null;
  /** The endpoint the device held at the last check (null: none; undefined: not read, or the peer is not on the device). */
  deviceEndpoint: string | null | undefined;
  /** Since when the device has held `found` instead of the chosen endpoint. */
  drift: { since: number; found: string | null; chosen: string } | null;
  /** Times the chosen endpoint was written back. */
  reasserts: number;
  /** Follower: when the deciding peer last announced the path this node is on. */
  lastAnnouncedAt: number;
}

interface RelayState {
  target: RelayTarget;
  lastSentAt: number;
  lastReplyAt: number | null;
  rttMs: number | null;
  /** This node's address as the relay saw it. */
  observed: string | null;
}

interface Pending {
  peerKey: string;
  candId: string | null;
  seq: number;
  sentUs: number;
  sentAt: number;
}

export class PathProber {
  private readonly now: () => number;
  private readonly nowUs: () => number;
  private readonly t: PathProberTiming;
  private readonly choiceCfg: PathChoiceConfig;
  private readonly peers = new Map<string, PeerState>();
  private readonly relays = new Map<string, RelayState>();
  private readonly pending = new Map<string, Pending>();
  private readonly keys = new Map<string, Buffer>();
  private keysFor = '';
  private timer: NodeJS.Timeout | null = null;
  private readonly listener = (d: { kind: 'stun' | 'disco'; from: string; payload: Buffer }) => {
    if (d.kind === 'disco') this.receive(d.from, d.payload);
  };
  readonly drops: Record<DiscoDropReason, number> = { malformed: 0, notForUs: 0, unknownSender: 0, mac: 0, stale: 0, badBody: 0 };
  private sendErrors = 0;
  private lastSendError: string | null = null;
  private lastEndpointCheckAt = 0;
  private checkingEndpoints = false;

  constructor(private readonly o: PathProberOptions) {
    this.now = o.now ?? Date.now;
    this.nowUs = o.nowUs ?? (o.now ? () => this.now() * 1000 : () => performance.now() * 1000);
    this.t = { ...DEFAULT_PROBER_TIMING, ...o.timing };
    this.choiceCfg = o.choice ?? DEFAULT_PATH_CHOICE;
    o.channel.on('datagram', this.listener);
  }

  /** start ticks on a timer; tests call tick() themselves. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.t.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.o.channel.off('datagram', this.listener);
  }

  /** endpointOverrides: public key → the endpoint the pair's path needs (for the apply loop). */
  endpointOverrides(): ReadonlyMap<string, string> {
    const out = new Map<string, string>();
    for (const s of this.peers.values()) if (s.endpoint !== null) out.set(s.peer.wgKey, s.endpoint);
    return out;
  }

  /** pathLabel: 'direct' or the relay's name, for probe rows and metrics. */
  pathLabel(peerId: string): string {
    const s = this.peers.get(peerId);
    const c = s?.activeId ? s.candidates.get(s.activeId)?.cand : undefined;
    return c?.kind === 'relay' ? c.relayName ?? 'relay' : 'direct';
  }

  /** relayedS: seconds the pair has been on a relay without a break, 0 when direct, null before a path is chosen. */
  relayedS(peerId: string): number | null {
    const s = this.peers.get(peerId);
    const c = s?.activeId ? s.candidates.get(s.activeId)?.cand : undefined;
    if (!s || !c) return null;
    return c.kind === 'relay' && s.relayedSince !== null ? Math.max(0, (this.now() - s.relayedSince) / 1000) : 0;
  }

  /** reflexiveByRelay: this node's address as each relay that answered saw it, with the relay's name. */
  reflexiveByRelay(): Array<{ address: string; relay: string }> {
    const out: Array<{ address: string; relay: string }> = [];
    for (const r of this.relays.values()) if (r.observed !== null) out.push({ address: r.observed, relay: r.target.name });
    return out.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.relay < b.relay ? -1 : 1));
  }

  /** reflexive: this node's addresses as relays saw them (one per relay that answered). */
  reflexive(): string[] {
    return [...new Set([...this.relays.values()].map((r) => r.observed).filter((x): x is string => x !== null))].sort();
  }

  /**
   * setMap takes a new map's peers and relays. New peers and new candidates are due at once (hole
   * punching); known ones keep their windows and choice.
   */
  setMap(map: NetworkMap): void {
    const self = this.o.self();
    const now = this.now();
    const seen = new Set<string>();
    for (const { peer, candidates } of pathCandidates(map)) {
      seen.add(peer.id);
      let s = this.peers.get(peer.id);
      if (!s || s.peer.wgKey !== peer.wgKey) {
        s = {
          peer,
          leader: self.id < peer.id,
          candidates: new Map(),
          choice: INITIAL_PATH_CHOICE,
          reason: 'probing its candidates',
          endpoint: null,
          activeId: null,
          lastSwitch: null,
          switches: 0,
          lastAnnounceAt: 0,
          lastAnnouncementUs: 0n,
          relayedSince: null,
          suspectedAt: null,
          deviceEndpoint: undefined,
          drift: null,
          reasserts: 0,
          lastAnnouncedAt: 0,
        };
        this.peers.set(peer.id, s);
      }
      s.peer = peer;
      s.leader = self.id < peer.id;
      const ids = new Set(candidates.map((c) => c.id));
      for (const c of candidates) {
        const known = s.candidates.get(c.id);
        if (known) known.cand = c;
        else s.candidates.set(c.id, this.newCandidate(c, now));
      }
      // Learned candidates stay (the peer may have moved ahead of the controller); advertised ones that left go.
      for (const [id, c] of s.candidates) if (!ids.has(id) && !c.cand.learned) s.candidates.delete(id);
    }
    for (const id of this.peers.keys()) if (!seen.has(id)) this.peers.delete(id);
    const relayIds = new Set<string>();
    for (const r of relaysOf(map)) {
      relayIds.add(r.id);
      const known = this.relays.get(r.id);
      if (known) known.target = r;
      else this.relays.set(r.id, { target: r, lastSentAt: 0, lastReplyAt: null, rttMs: null, observed: null });
    }
    for (const id of this.relays.keys()) if (!relayIds.has(id)) this.relays.delete(id);
  }

  /** kick makes every candidate and relay due now (the underlay address changed: roam at once). */
  kick(): void {
    for (const s of this.peers.values()) {
      for (const c of s.candidates.values()) c.lastSentAt = 0;
      s.lastAnnounceAt = 0;
    }
    for (const r of this.relays.values()) r.lastSentAt = 0;
  }

  private newCandidate(cand: PathCandidate, now: number): CandidateState {
    return { cand, window: new PeerWindow(this.t.windowSize, DISCO_WINDOW), seq: 0, lastSentAt: 0, lastReplyAt: null, addedAt: now };
  }

  private pairKey(peerKey: string): Buffer {
    const self = this.o.self();
    if (this.keysFor !== self.privateKey) {
      this.keys.clear();
      this.keysFor = self.privateKey;
    }
    let k = this.keys.get(peerKey);
    if (!k) {
      k = discoPairKey(self.privateKey, peerKey);
      this.keys.set(peerKey, k);
    }
    return k;
  }

  private send(to: string, type: number, receiver: string, body: Buffer, txId: Buffer = randomBytes(12)): void {
    const self = this.o.self();
    let msg: Buffer;
    try {
      msg = sealDisco({ type, sender: self.wgKey, receiver, txId, timestampUs: BigInt(this.now()) * 1000n, body }, this.pairKey(receiver));
    } catch (err) {
      this.noteSendError(err);
      return;
    }
    this.o.channel.send(to, msg).catch((err: unknown) => this.noteSendError(err));
  }

  private noteSendError(err: unknown): void {
    this.sendErrors++;
    const message = err instanceof Error ? err.message : String(err);
    if (message !== this.lastSendError) this.o.log.debug({ err: message }, 'disco send failed');
    this.lastSendError = message;
  }

  private ping(s: PeerState, c: CandidateState, now: number): void {
    const txId = randomBytes(12);
    const seq = ++c.seq;
    const sentUs = this.nowUs();
    c.window.recordSent(seq, sentUs, now);
    c.lastSentAt = now;
    this.pending.set(txId.toString('hex'), { peerKey: s.peer.wgKey, candId: c.cand.id, seq, sentUs, sentAt: now });
    this.send(c.cand.endpoint, DiscoType.PING, s.peer.wgKey, Buffer.alloc(0), txId);
  }

  private pingRelay(r: RelayState, now: number): void {
    const txId = randomBytes(12);
    r.lastSentAt = now;
    this.pending.set(txId.toString('hex'), { peerKey: r.target.wgKey, candId: null, seq: 0, sentUs: this.nowUs(), sentAt: now });
    this.send(r.target.endpoint, DiscoType.PING, r.target.wgKey, Buffer.alloc(0), txId);
  }

  private figures(c: CandidateState): PathFigures {
    const st = c.window.stats(this.nowUs(), this.t.probeTimeoutMs * 1000);
    return { id: c.cand.id, kind: c.cand.kind, lastReplyAt: c.lastReplyAt, rttMs: st.minRttUs === null ? null : st.minRttUs / 1000, loss: st.loss, jitterMs: st.jitterUs / 1000 };
  }

  /** tick sends what is due, settles timed-out probes and runs each deciding pair's choice. */
  tick(): void {
    const now = this.now();
    const nowUs = this.nowUs();
    for (const [tx, p] of this.pending) if (now - p.sentAt > 5 * this.t.probeTimeoutMs) this.pending.delete(tx);
    for (const r of this.relays.values()) if (now - r.lastSentAt >= this.t.relayPingMs) this.pingRelay(r, now);
    for (const s of this.peers.values()) {
      for (const c of s.candidates.values()) {
        c.window.expire(nowUs, this.t.probeTimeoutMs * 1000);
        const live = c.lastReplyAt !== null && now - c.lastReplyAt <= this.choiceCfg.candidateLiveWithinMs;
        const young = now - c.addedAt < 30_000;
        const every = c.cand.id === s.activeId ? this.t.activeProbeMs : live || young ? this.t.liveProbeMs : this.t.deadProbeMs;
        if (now - c.lastSentAt >= every) this.ping(s, c, now);
      }
      if (s.leader) this.decide(s, now);
    }
    if (this.o.device && !this.checkingEndpoints && now - this.lastEndpointCheckAt >= this.t.endpointCheckMs) void this.checkEndpoints();
  }

  /**
   * checkEndpoints compares the endpoint the device holds for each peer with the chosen path's and
   * writes the chosen one back where they have differed for reassertAfterMs while the chosen path
   * answered (the follower also waits for the deciding peer to announce the path again, so it
   * never holds on to a path the peer has left). Runs from tick(); tests may call it.
   */
  async checkEndpoints(): Promise<void> {
    const device = this.o.device;
    if (!device || this.checkingEndpoints) return;
    // Nothing chosen yet, nothing to compare: the device is not read.
    if (![...this.peers.values()].some((s) => s.endpoint !== null)) return;
    this.checkingEndpoints = true;
    this.lastEndpointCheckAt = this.now();
    try {
      let held: ReadonlyMap<string, string | null>;
      try {
        held = await device.endpoints();
      } catch (err) {
        this.o.log.debug({ err: (err as Error).message }, 'cannot read the device endpoints');
        return;
      }
      const now = this.now();
      const fix = new Map<string, string | null>();
      for (const s of this.peers.values()) {
        const found = held.get(s.peer.wgKey);
        s.deviceEndpoint = found;
        if (s.endpoint === null || found === undefined || sameEndpoint(found, s.endpoint)) {
          s.drift = null;
          continue;
        }
        if (!s.drift || s.drift.found !== found || s.drift.chosen !== s.endpoint) {
          s.drift = { since: now, found, chosen: s.endpoint };
          continue;
        }
        if (now - s.drift.since < this.t.reassertAfterMs) continue;
        const act = s.activeId ? s.candidates.get(s.activeId) : undefined;
        const answers = act !== undefined && act.lastReplyAt !== null && act.lastReplyAt > s.drift.since;
        const announced = s.leader || s.lastAnnouncedAt > s.drift.since;
        if (!answers || !announced) continue;
        fix.set(s.peer.wgKey, found);
        s.drift = { ...s.drift, since: now };
        s.reasserts++;
        const e: EndpointReassertEvent = { at: now, peerId: s.peer.id, peerName: s.peer.name, label: this.pathLabel(s.peer.id), chosen: s.endpoint, found };
        this.o.log.warn({ peer: e.peerName, chosen: e.chosen, found: e.found }, 'the device endpoint drifted from the chosen path; writing the chosen one back');
        this.o.onReassert?.(e);
      }
      if (fix.size > 0) await device.reassert(fix);
    } finally {
      this.checkingEndpoints = false;
    }
  }

  private decide(s: PeerState, now: number): void {
    // The active path has been silent for half the dead time: ask every other candidate now, so
    // that if it dies the failover knows which of them still answer (not only which answered
    // before, like another address of the same blackholed peer).
    const act = s.activeId ? s.candidates.get(s.activeId) : undefined;
    if (act) {
      const lastSign = Math.max(act.lastReplyAt ?? 0, s.choice.since);
      if (now - lastSign > this.choiceCfg.activeDeadAfterMs / 2 && s.suspectedAt !== lastSign) {
        s.suspectedAt = lastSign;
        for (const c of s.candidates.values()) if (c !== act) this.ping(s, c, now);
      }
    }
    const figures = [...s.candidates.values()].map((c) => this.figures(c));
    const d = choosePath(s.choice, figures, now, this.choiceCfg);
    s.choice = d.state;
    s.reason = d.reason;
    if (d.switched) {
      const to = s.candidates.get(d.switched.to)!;
      const prev = s.activeId ? s.candidates.get(s.activeId)?.cand : undefined;
      s.activeId = to.cand.id;
      s.endpoint = to.cand.endpoint;
      // A relay forwards a session only from the handshake it carried: start one through it.
      const rehandshake = to.cand.kind === 'relay' && prev?.id !== to.cand.id ? [s.peer.wgKey] : [];
      this.switched(s, { at: now, peerId: s.peer.id, peerName: s.peer.name, from: d.switched.from, to: to.cand.id, label: this.pathLabel(s.peer.id), cause: d.switched.cause, reason: d.reason });
      void this.o.apply(rehandshake).then(() => this.announce(s, this.now()));
      return;
    }
    if (s.activeId && now - s.lastAnnounceAt >= this.t.announceMs) this.announce(s, now);
  }

  private switched(s: PeerState, e: PathSwitchEvent): void {
    const onRelay = s.activeId !== null && s.candidates.get(s.activeId)?.cand.kind === 'relay';
    if (!onRelay) s.relayedSince = null;
    else s.relayedSince ??= e.at;
    s.lastSwitch = e;
    s.switches++;
    this.o.log.info({ peer: e.peerName, from: e.from, to: e.to, cause: e.cause, reason: e.reason }, 'path switched');
    this.o.onSwitch?.(e);
  }

  /** announce tells the peer the chosen path, over that path. */
  private announce(s: PeerState, now: number): void {
    const c = s.activeId ? s.candidates.get(s.activeId) : undefined;
    if (!c) return;
    s.lastAnnounceAt = now;
    const a: PathAnnouncement = c.cand.kind === 'relay' ? { path: 'relay', relay: c.cand.relayId! } : { path: 'direct' };
    this.send(c.cand.endpoint, DiscoType.PATH, s.peer.wgKey, encodePathAnnouncement(a));
  }

  private peerByKey(key: string): PeerState | undefined {
    for (const s of this.peers.values()) if (s.peer.wgKey === key) return s;
    return undefined;
  }

  private relayByKey(key: string): RelayState | undefined {
    for (const r of this.relays.values()) if (r.target.wgKey === key) return r;
    return undefined;
  }

  /** receive handles one disco datagram from the WireGuard socket. */
  receive(from: string, payload: Buffer): void {
    const h = parseDiscoHeader(payload);
    if (!h.ok) return void this.drops.malformed++;
    const self = this.o.self();
    if (h.header.receiver !== self.wgKey) return void this.drops.notForUs++;
    // A relay is usually a peer too: its registration pongs are told apart by their pending ping.
    const peer = this.peerByKey(h.header.sender);
    const relay = this.relayByKey(h.header.sender);
    if (!peer && !relay) return void this.drops.unknownSender++;
    let opened;
    try {
      opened = openDisco(payload, this.pairKey(h.header.sender));
    } catch {
      return void this.drops.mac++;
    }
    if (!opened.ok) return void this.drops[opened.why === 'mac' ? 'mac' : 'malformed']++;
    const m = opened.message;
    const now = this.now();
    // Messages more than 2 minutes from this clock are replays or a broken clock.
    if (Math.abs(Number(m.timestampUs / 1000n) - now) > 120_000) return void this.drops.stale++;
    if (m.type === DiscoType.PING) {
      if (!parseUdpEndpoint(from)) return void this.drops.malformed++;
      this.send(from, DiscoType.PONG, h.header.sender, encodeObservedAddress(parseUdpEndpoint(from)!.ip, parseUdpEndpoint(from)!.port), m.txId);
      if (peer) this.learn(peer, from, now);
      return;
    }
    if (m.type === DiscoType.PONG) {
      const tx = m.txId.toString('hex');
      const p = this.pending.get(tx);
      if (!p || p.peerKey !== h.header.sender) return;
      this.pending.delete(tx);
      if (p.candId === null) {
        if (!relay) return;
        relay.lastReplyAt = now;
        relay.rttMs = (this.nowUs() - p.sentUs) / 1000;
        const seen = decodeObservedAddress(m.body);
        relay.observed = seen ? (seen.ip.includes(':') ? `[${seen.ip}]:${seen.port}` : `${seen.ip}:${seen.port}`) : relay.observed;
        return;
      }
      const c = p.candId ? peer!.candidates.get(p.candId) : undefined;
      if (!c) return;
      if (c.lastReplyAt !== null && now - c.lastReplyAt > 2 * this.t.liveProbeMs) {
        // Back after an outage: the losses of the outage say nothing about the path now (the
        // hold-down after its death already keeps it from taking over too soon).
        c.window = new PeerWindow(this.t.windowSize, DISCO_WINDOW);
        c.window.recordSent(p.seq, p.sentUs, p.sentAt);
      }
      c.window.recordReply(p.seq, p.sentUs, this.nowUs(), this.t.probeTimeoutMs * 1000);
      c.lastReplyAt = now;
      return;
    }
    if (m.type === DiscoType.PATH && peer) {
      const a = decodePathAnnouncement(m.body);
      if (!a) return void this.drops.badBody++;
      if (peer.leader) return; // we decide this pair; the peer will follow our announcements
      if (m.timestampUs <= peer.lastAnnouncementUs) return;
      peer.lastAnnouncementUs = m.timestampUs;
      this.adopt(peer, a, from, now);
      // The deciding peer still names the path this node is on (not one it could not adopt).
      if (peer.endpoint === from) peer.lastAnnouncedAt = now;
    }
  }

  /** learn makes an address the peer pinged from a candidate when it is not one yet (peer-reflexive). */
  private learn(s: PeerState, from: string, now: number): void {
    for (const c of s.candidates.values()) if (c.cand.endpoint === from) return;
    for (const r of this.relays.values()) if (r.target.endpoint === from) return;
    const cand: PathCandidate = { id: directCandidateId(from), kind: 'direct', endpoint: from, learned: true };
    const c = this.newCandidate(cand, now);
    s.candidates.set(cand.id, c);
    this.ping(s, c, now);
  }

  /** adopt follows the deciding peer onto the path its message came over. */
  private adopt(s: PeerState, a: PathAnnouncement, from: string, now: number): void {
    let cand: PathCandidate | undefined;
    if (a.path === 'relay') cand = [...s.candidates.values()].find((c) => c.cand.relayId === a.relay)?.cand;
    else cand = s.candidates.get(directCandidateId(from))?.cand;
    if (!cand) {
      if (a.path === 'relay') return; // a relay this node does not know: keep what WireGuard's roaming set
      this.learn(s, from, now);
      cand = s.candidates.get(directCandidateId(from))!.cand;
    }
    if (s.activeId === cand.id && s.endpoint === from) return;
    const prev = s.activeId;
    s.activeId = cand.id;
    s.endpoint = from;
    s.reason = `${s.peer.name} decides this pair (lower node id) and chose ${a.path === 'relay' ? `relay ${cand.relayName ?? a.relay}` : 'the direct path'}`;
    s.choice = { ...s.choice, active: cand.id, since: now, challenger: null };
    this.switched(s, { at: now, peerId: s.peer.id, peerName: s.peer.name, from: prev, to: cand.id, label: this.pathLabel(s.peer.id), cause: 'adopted', reason: s.reason });
    void this.o.apply([]);
  }

  /** status is what `trellis paths` shows. */
  status(): { peers: PeerPathStatus[]; relays: RelayPathStatus[]; reflexive: string[]; drops: Record<DiscoDropReason, number>; sendErrors: number } {
    const now = this.now();
    const peers: PeerPathStatus[] = [];
    for (const s of [...this.peers.values()].sort((a, b) => (a.peer.name < b.peer.name ? -1 : 1))) {
      const candidates = [...s.candidates.values()].map((c): PathCandidateStatus => {
        const f = this.figures(c);
        const cost = pathCost(f, this.choiceCfg.weights);
        return {
          id: c.cand.id,
          kind: c.cand.kind,
          endpoint: c.cand.endpoint,
          relay: c.cand.relayName ?? null,
          learned: c.cand.learned === true,
          ...(c.cand.endpointKind ? { endpointKind: c.cand.endpointKind } : {}),
          live: isLive(f, s.choice, now, this.choiceCfg),
          rttMs: f.rttMs,
          loss: f.loss,
          jitterMs: f.jitterMs,
          costMs: Number.isFinite(cost) ? cost : null,
          lastReplyAgoMs: c.lastReplyAt === null ? null : now - c.lastReplyAt,
          deaths: s.choice.deaths[c.cand.id]?.count ?? 0,
          heldDownMs: Math.max(0, (s.choice.deaths[c.cand.id]?.holdUntil ?? 0) - now),
        };
      });
      peers.push({
        peerId: s.peer.id,
        peer: s.peer.name,
        role: s.leader ? 'decides' : 'follows',
        active: s.activeId,
        label: this.pathLabel(s.peer.id),
        endpoint: s.endpoint,
        reason: s.reason,
        since: s.activeId ? s.choice.since : null,
        switches: s.switches,
        lastSwitch: s.lastSwitch,
        ...(s.deviceEndpoint !== undefined ? { deviceEndpoint: s.deviceEndpoint } : {}),
        endpointReasserts: s.reasserts,
        candidates,
      });
    }
    const relays = [...this.relays.values()].map((r) => ({
      relay: r.target.name,
      endpoint: r.target.endpoint,
      live: r.lastReplyAt !== null && now - r.lastReplyAt <= 3 * this.t.relayPingMs,
      rttMs: r.rttMs,
      observed: r.observed,
    }));
    return { peers, relays, reflexive: this.reflexive(), drops: { ...this.drops }, sendErrors: this.sendErrors };
  }
}

/** sameEndpoint compares two "ip:port" texts as addresses (an IPv6 address may be written in more than one way). */
function sameEndpoint(a: string | null, b: string): boolean {
  if (a === b) return true;
  if (a === null) return false;
  const x = parseUdpEndpoint(a);
  const y = parseUdpEndpoint(b);
  return x !== null && y !== null && formatUdpEndpoint(x) === formatUdpEndpoint(y);
}
