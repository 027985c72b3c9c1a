/**
 * AgentPaths is the agent's side of smart routing, assembled: it connects to trellis-wg's control
 * socket (DeviceDatagramChannel), runs the PathProber on it, learns this node's reflexive address
 * with STUN on the WireGuard socket (so it is the mapping WireGuard's datagrams use), watches the
 * underlay addresses (roaming: a change re-reports candidates, re-runs STUN and pings every peer
 * at once), and reconnects when the device's control socket goes. With two or more STUN server
 * addresses it classifies its own NAT from their answers: behind a per-destination ("hard") NAT a
 * reflexive address is only the mapping toward the server (or relay) that saw it, which no peer
 * can reach, so none is advertised (peers still learn the mapping toward themselves from this
 * node's pings, and pairs that cannot meet go through a relay). With a device that has no
 * control socket (upstream wireguard-go) the mesh still works on the map's endpoints, and
 * `trellis paths` says why there is no path choice.
 */
import { lookup } from 'node:dns/promises';
import type { Logger } from 'pino';
import type { NetworkMap } from '../../netmap/types';
import { classifyNat, stunBinding, toTransportAddress, transportAddressText, type NatProbeAnswer, type TransportAddress } from '../../stun';
import { DeviceDatagramChannel } from '../../wg/device-datagram-channel';
import { deviceStunTransport } from '../../wg/device-stun-transport';
import { parseUdpEndpoint } from '../../wg/control-frame';
import type { AgentNatStatus, AgentPathsStatus } from '../../wire/path-status';
import type { FoundCandidate } from '../endpoint-candidates';
import { PathProber, type EndpointReassertEvent, type PathDevice, type PathProberOptions, type PathSwitchEvent } from './path-prober';
import type { WgPeerConfig, WgPeerStats } from '../../wg/types';
import { OnDemandPeers, type OnDemandStatus } from '../on-demand-peers';

export interface AgentPathsOptions {
  /** trellis-wg's control socket for the device; null when the device has none (reason says why). */
  controlSocket: () => Promise<{ socket: string | null; reason: string | null }>;
  self: () => { id: string; wgKey: string; privateKey: string };
  apply: (rehandshake: string[]) => Promise<void>;
  onSwitch?: (e: PathSwitchEvent) => void;
  /** The device's endpoints, read and written back when they drift from the chosen paths; absent: no drift check. */
  device?: PathDevice;
  onReassert?: (e: EndpointReassertEvent) => void;
  /** Underlay addresses now (roaming watch). */
  underlay: () => Promise<string[]>;
  /** Called when the underlay addresses or the reflexive address changed: report candidates again. */
  onCandidatesChanged: () => void;
  /** STUN servers ("ip:port" or "host:port"); two or more addresses also classify this node's NAT. */
  stunServers: string[];
  /** The device's listen port, to tell "no NAT" (a server sees the socket's own address) from an easy one. */
  listenPort?: () => number | null;
  log: Logger;
  /** How often the underlay addresses are read, ms (default 500). */
  watchMs?: number;
  /** How often STUN runs without a change, ms (default 30 s). */
  stunEveryMs?: number;
  /** The prober's clocks, timing and choice settings (a unit test's fake clock); defaults otherwise. */
  prober?: Pick<PathProberOptions, 'now' | 'nowUs' | 'timing' | 'choice'>;
  /** How long after the control socket closed it is tried again, ms (default 1000). */
  reconnectMs?: number;
  /** The device's peer stats (on-demand peers open after their handshake). */
  wgStats?: () => Promise<WgPeerStats[]>;
  /** The on-demand peers changed: write them (Reconfigurer.applyPaths). */
  onDemandChanged?: () => void;
  /** How often open on-demand peers are checked for idleness, ms (default 1000). */
  onDemandTickMs?: number;
  /**
   * How often a staged on-demand peer is checked for its handshake, ms (default 100): each end
   * opens when it sees the handshake, and until both did, the one that opened first loses
   * packets to the other (WireGuard drops a source outside the peer's allowed IPs).
   */
  onDemandStagedTickMs?: number;
  /** An open on-demand peer without traffic this long is removed, ms (`trellis up --on-demand-idle`; default 60000). */
  onDemandIdleMs?: number;
}

export class AgentPaths {
  private channel: DeviceDatagramChannel | null = null;
  private prober: PathProber | null = null;
  private onDemand: OnDemandPeers | null = null;
  private onDemandTicking = false;
  private onDemandTickAt = 0;
  /** A watch was sent on this connection (a later map without onDemand must clear it). */
  private watchedOnce = false;
  private reason: string | null = 'the device has not started yet';
  private lastMap: NetworkMap | null = null;
  private stunReflexive: string[] = [];
  /** Reflexive address -> the STUN server that answered it first. */
  private stunSource = new Map<string, string>();
  /** This node's NAT as the last STUN run with two or more server addresses saw it; null before one. */
  private nat: AgentNatStatus | null = null;
  private underlayKey = '';
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private connecting: Promise<void> | null = null;
  private stunRunning = false;
  /** A STUN run was asked for while one was running: run again when it ends (the port may have changed). */
  private stunAgain = false;

  constructor(private readonly o: AgentPathsOptions) {}

  /** start connects to the device (after it is up) and starts the watches. */
  async start(): Promise<void> {
    await this.connect();
    this.timers.push(setInterval(() => void this.watchUnderlay(), this.o.watchMs ?? 500));
    this.timers.push(setInterval(() => void this.runStun(), this.o.stunEveryMs ?? 30_000));
    this.timers.push(setInterval(() => void this.tickOnDemand(), this.o.onDemandStagedTickMs ?? 100));
    for (const t of this.timers) t.unref();
    void this.watchUnderlay();
  }

  private connect(): Promise<void> {
    this.connecting ??= (async () => {
      try {
        const { socket, reason } = await this.o.controlSocket();
        if (!socket) {
          this.reason = reason ?? 'the device has no control socket';
          return;
        }
        const ch = await DeviceDatagramChannel.connect(socket);
        if (this.stopped) return ch.close();
        this.channel = ch;
        this.prober = new PathProber({
          ...this.o.prober,
          channel: ch,
          self: this.o.self,
          apply: this.o.apply,
          onSwitch: this.o.onSwitch,
          ...(this.o.device ? { device: this.o.device } : {}),
          ...(this.o.onReassert ? { onReassert: this.o.onReassert } : {}),
          log: this.o.log,
        });
        this.reason = null;
        if (this.lastMap) this.prober.setMap(this.lastMap);
        this.prober.start();
        const od = new OnDemandPeers({ device: ch, log: this.o.log, changed: () => this.o.onDemandChanged?.(), ...(this.o.onDemandIdleMs !== undefined ? { idleMs: this.o.onDemandIdleMs } : {}) });
        this.onDemand = od;
        this.watchedOnce = false;
        ch.on('demand', (d) => od.onDemand(d));
        if (this.lastMap) this.syncOnDemand(this.lastMap);
        ch.on('close', (err) => {
          if (this.stopped) return;
          this.o.log.warn({ err: err?.message }, 'the device control socket closed; path choice pauses until it is back');
          this.prober?.stop();
          this.prober = null;
          this.channel = null;
          // Without the device's reports nothing keeps on-demand peers alive: drop them (traffic goes through the hub).
          const had = (this.onDemand?.peers().length ?? 0) > 0;
          this.onDemand = null;
          if (had) this.o.onDemandChanged?.();
          this.reason = 'the device control socket closed; reconnecting';
          const t = setTimeout(() => void this.connect(), this.o.reconnectMs ?? 1_000);
          t.unref();
        });
        void this.runStun();
      } catch (err) {
        this.reason = `cannot use the device's control socket: ${(err as Error).message}`;
        this.o.log.warn({ err: (err as Error).message }, 'path choice is unavailable');
      } finally {
        this.connecting = null;
      }
    })();
    return this.connecting;
  }

  /** endpointOverrides for the apply loop. */
  endpointOverrides(): ReadonlyMap<string, string> {
    return this.prober?.endpointOverrides() ?? new Map();
  }

  relayedS(peerId: string): number | null {
    return this.prober?.relayedS(peerId) ?? null;
  }

  pathLabel(peerId: string): string {
    return this.prober?.pathLabel(peerId) ?? 'direct';
  }

  /** reflexive: this node's NAT-mapped WireGuard addresses (STUN, and what relays saw); reported as candidates. */
  reflexive(): string[] {
    return [...new Set([...this.stunReflexive, ...(this.prober?.reflexive() ?? [])])].sort();
  }

  /**
   * reflexiveCandidates: the reflexive addresses with where each came from (a STUN server, or the
   * relay that saw it); none behind a hard NAT, where each is valid only toward whoever saw it.
   */
  reflexiveCandidates(): FoundCandidate[] {
    if (this.nat?.type === 'hard') return [];
    const out: FoundCandidate[] = this.stunReflexive.map((address) => ({ kind: 'reflexive', address, ...(this.stunSource.has(address) ? { source: this.stunSource.get(address)! } : {}) }));
    for (const r of this.prober?.reflexiveByRelay() ?? []) out.push({ kind: 'reflexive', address: r.address, source: `relay ${r.relay}` });
    return out;
  }

  onMap(map: NetworkMap): void {
    // The first applied map sets the device's listen port: the STUN run made at start-up saw the
    // device's start-up port, whose mapping no peer will ever reach. Ask again from the real one.
    const first = this.lastMap === null;
    this.lastMap = map;
    if (first) void this.runStun();
    this.prober?.setMap(map);
    this.syncOnDemand(map);
  }

  /** onDemandPeers: the remote spokes configured on demand now (Reconfigurer.extraPeers). */
  onDemandPeers(): readonly WgPeerConfig[] {
    return this.onDemand?.peers() ?? [];
  }

  /** onDemandStatus: null while the device has no control socket. */
  onDemandStatus(): OnDemandStatus | null {
    return this.onDemand?.status() ?? null;
  }

  private syncOnDemand(map: NetworkMap): void {
    const od = this.onDemand;
    if (!od) return;
    // Watch only what the map offers: a map without onDemand clears a set left from before.
    if (!map.onDemand && !this.watchedOnce) return;
    this.watchedOnce = true;
    od.setMap(map).catch((err: Error) => this.o.log.warn({ err: err.message }, 'the device refused the on-demand watch; on-demand peers wait for the next map'));
  }

  private async tickOnDemand(): Promise<void> {
    const od = this.onDemand;
    if (!od || this.onDemandTicking || !this.o.wgStats || od.peers().length === 0) return;
    if (!od.hasStaged() && Date.now() - this.onDemandTickAt < (this.o.onDemandTickMs ?? 1_000)) return;
    this.onDemandTickAt = Date.now();
    this.onDemandTicking = true;
    try {
      await od.tick(await this.o.wgStats());
    } catch (err) {
      this.o.log.debug({ err: (err as Error).message }, 'on-demand peer check failed');
    } finally {
      this.onDemandTicking = false;
    }
  }

  private async watchUnderlay(): Promise<void> {
    if (this.stopped) return;
    let addrs: string[];
    try {
      addrs = (await this.o.underlay()).sort();
    } catch {
      return;
    }
    const key = addrs.join(',');
    if (key === this.underlayKey) return;
    const first = this.underlayKey === '';
    this.underlayKey = key;
    if (first) return;
    this.o.log.info({ addresses: addrs }, 'underlay addresses changed: reporting candidates and pinging every peer');
    this.prober?.kick();
    this.o.onCandidatesChanged();
    void this.runStun();
  }

  private async runStun(): Promise<void> {
    if (!this.channel || this.o.stunServers.length === 0) return;
    if (this.stunRunning) {
      this.stunAgain = true;
      return;
    }
    this.stunRunning = true;
    this.stunAgain = false;
    try {
      const found: string[] = [];
      const source = new Map<string, string>();
      const answers: NatProbeAnswer[] = [];
      // One at a time from the one WireGuard socket: the mapping each server sees must not depend on interleaving.
      for (const s of this.o.stunServers) {
        const server = await resolveServer(s);
        if (!server) continue;
        const to = toTransportAddress(server);
        try {
          const r = await stunBinding(deviceStunTransport(this.channel), to, { timeoutMs: 1_500 });
          const mapped = r.mapped.family === 'IPv6' ? `[${r.mapped.address}]:${r.mapped.port}` : `${r.mapped.address}:${r.mapped.port}`;
          found.push(mapped);
          answers.push({ server: to, mapped: r.mapped });
          if (!source.has(mapped)) source.set(mapped, `stun ${s}`);
        } catch (err) {
          answers.push({ server: to, mapped: null });
          this.o.log.debug({ server: s, err: (err as Error).message }, 'no STUN answer');
        }
      }
      const next = [...new Set(found)].sort();
      this.stunSource = source;
      const natChanged = await this.classify(answers);
      if (next.join(',') !== this.stunReflexive.join(',') || natChanged) {
        this.stunReflexive = next;
        this.o.log.info({ reflexive: next, nat: this.nat?.type ?? null }, this.nat?.type === 'hard' ? 'reflexive addresses (STUN on the WireGuard socket) not advertised: a hard NAT maps each destination apart' : 'reflexive address (STUN on the WireGuard socket)');
        this.o.onCandidatesChanged();
      }
    } finally {
      this.stunRunning = false;
    }
    if (this.stunAgain && !this.stopped) void this.runStun();
  }

  /**
   * classify names this node's NAT from one STUN run's answers when they came from two or more
   * server addresses (with fewer it keeps what it knew); true when the type changed.
   */
  private async classify(answers: readonly NatProbeAnswer[]): Promise<boolean> {
    if (new Set(answers.map((a) => transportAddressText(a.server))).size < 2) return false;
    const port = this.o.listenPort?.() ?? null;
    let local: TransportAddress[] = [];
    if (port !== null) {
      const addrs = await this.o.underlay().catch(() => [] as string[]);
      local = addrs.map((a) => ({ family: a.includes(':') ? ('IPv6' as const) : ('IPv4' as const), address: a, port }));
    }
    const c = classifyNat(answers, local);
    // Answers too few this time (a server did not answer): keep the last classification.
    if (c.type === 'unknown' && this.nat !== null) return false;
    const mappings: Record<string, string | null> = {};
    for (const a of answers) mappings[transportAddressText(a.server)] = a.mapped ? transportAddressText(a.mapped) : null;
    const before = this.nat?.type ?? null;
    this.nat = { type: c.type, reason: c.reason, mappings, at: Date.now(), advertisesReflexive: c.type !== 'hard' };
    if (before !== c.type) this.o.log.info({ nat: c.type, reason: c.reason }, 'NAT classified (STUN on the WireGuard socket)');
    return before !== c.type;
  }

  async status(): Promise<AgentPathsStatus> {
    const st = this.prober?.status();
    return {
      available: this.prober !== null,
      reason: this.reason,
      peers: st?.peers ?? [],
      relays: st?.relays ?? [],
      reflexive: this.reflexive(),
      drops: st?.drops ?? null,
      ...(this.nat ? { nat: this.nat } : {}),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.connecting;
    this.prober?.stop();
    this.prober = null;
    this.channel?.close();
    this.channel = null;
  }
}

async function resolveServer(text: string): Promise<{ address: string; port: number } | null> {
  const u = parseUdpEndpoint(text);
  if (u) return { address: u.ip, port: u.port };
  const m = /^([^:]+):(\d{1,5})$/.exec(text);
  if (!m) return null;
  try {
    const { address } = await lookup(m[1]!);
    return { address, port: Number(m[2]) };
  } catch {
    return null;
  }
}
