/**
 * ConnectionEventReporter tells the controller, for the audit log, what happened to this node's
 * connections: a tunnel to a peer came up or went down (every few seconds it samples WireGuard's
 * handshakes; a tunnel is up while its last handshake is younger than REJECT_AFTER_TIME), the
 * endpoint WireGuard sends a peer's datagrams to changed (a path switch; a relay switch when it
 * moved between a direct address and a relay, or between relays), and the node entered or left
 * quarantine (its map says so); and what the agent itself switched (record: the exit node in use).
 * It posts what it saw, signed. Events wait in a bounded queue while the controller is away; the
 * oldest are dropped past the bound.
 */
import type { Logger } from 'pino';
import { ErrorCode } from '../errors';
import type { WgPeerStats } from '../wg/types';
import type { ConnectionEvent, ConnectionEventsRequest } from '../wire';
import { isRefusal } from './controller-client';
import { TUNNEL_UP_MAX_AGE_S } from './telemetry/tunnel-rows';

export interface ConnectionEventReporterDeps {
  wgStats: () => Promise<WgPeerStats[]>;
  /** Current peers by WireGuard public key → node id. */
  peerIdsByKey: () => ReadonlyMap<string, string>;
  /** Relay addresses (host:port) → the relay node's name, from the current map; a peer sent there is reached through that relay. */
  relayEndpoints?: () => ReadonlyMap<string, string>;
  post: (body: ConnectionEventsRequest) => Promise<unknown>;
  log: Logger;
  clock?: () => number;
  /** Sampling interval, ms. Default 5000. */
  intervalMs?: number;
  /** Events kept while the controller is away. Default 256. */
  maxQueued?: number;
}

/** The controller takes at most this many events per request. */
const MAX_PER_POST = 64;

export class ConnectionEventReporter {
  private readonly up = new Map<string, boolean>();
  /** The endpoint WireGuard last used per peer id. */
  private readonly endpoints = new Map<string, string>();
  /** Whether the last applied map had this node quarantined; null before the first. */
  private quarantined: boolean | null = null;
  private queue: ConnectionEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private dropped = 0;
  private readonly clock: () => number;

  constructor(private readonly d: ConnectionEventReporterDeps) {
    this.clock = d.clock ?? Date.now;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.d.intervalMs ?? 5000);
    this.timer.unref();
  }

  /** tick samples the tunnels and sends what changed; one runs at a time. */
  tick(): Promise<void> {
    this.running ??= this.sampleAndSend().finally(() => (this.running = null));
    return this.running;
  }

  /** record queues an event the agent decided itself (e.g. exit.switched) and sends it now, with anything else waiting. */
  record(e: Omit<ConnectionEvent, 'at'>): void {
    this.enqueue({ at: this.clock(), ...e });
    void this.tick();
  }

  /** Events waiting to be sent, and how many were dropped while the controller was away. */
  stats(): { queued: number; dropped: number } {
    return { queued: this.queue.length, dropped: this.dropped };
  }

  private async sampleAndSend(): Promise<void> {
    try {
      this.observe(await this.d.wgStats());
    } catch (err) {
      this.d.log.debug({ err: (err as Error).message }, 'could not sample WireGuard handshakes for connection events');
    }
    await this.send();
  }

  /** observe turns one sample into tunnel.up / tunnel.down transitions and path or relay switches per peer. */
  observe(stats: readonly WgPeerStats[]): void {
    const ids = this.d.peerIdsByKey();
    const relays = this.d.relayEndpoints?.() ?? new Map<string, string>();
    const via = (endpoint: string) => {
      const relay = relays.get(endpoint);
      return relay === undefined ? 'direct' : `relay:${relay}`;
    };
    const now = this.clock();
    const seen = new Set<string>();
    for (const s of stats) {
      const peer = ids.get(s.publicKey);
      if (peer === undefined) continue;
      seen.add(peer);
      const age = s.lastHandshake === null ? null : Math.max(0, (now - s.lastHandshake) / 1000);
      const isUp = age !== null && age < TUNNEL_UP_MAX_AGE_S;
      const was = this.up.get(peer);
      this.up.set(peer, isUp);
      if (!(was === isUp || (was === undefined && !isUp))) {
        this.enqueue({ at: now, kind: isUp ? 'tunnel.up' : 'tunnel.down', peer, details: { handshakeAgeS: age === null ? null : Math.round(age) } });
      }
      if (s.endpoint === null) continue;
      const before = this.endpoints.get(peer);
      this.endpoints.set(peer, s.endpoint);
      if (before === undefined || before === s.endpoint) continue;
      const [from, to] = [via(before), via(s.endpoint)];
      // One event per switch: a relay switch when the way changed (direct, or which relay), else a path switch.
      this.enqueue({ at: now, kind: from === to ? 'path.switched' : 'relay.switched', peer, details: { from, to, fromEndpoint: before, toEndpoint: s.endpoint } });
    }
    // A peer that left the map is forgotten without an event: the controller knows why it left.
    for (const peer of [...this.up.keys()]) if (!seen.has(peer)) this.up.delete(peer);
    for (const peer of [...this.endpoints.keys()]) if (!seen.has(peer)) this.endpoints.delete(peer);
  }

  /**
   * noteQuarantine takes the quarantine flag of each applied map: entering or leaving quarantine
   * is an event (the first map only sets the starting point, unless it starts quarantined).
   */
  noteQuarantine(quarantined: boolean, reason?: string): void {
    const was = this.quarantined;
    this.quarantined = quarantined;
    if (was === quarantined || (was === null && !quarantined)) return;
    this.enqueue({ at: this.clock(), kind: quarantined ? 'quarantine.entered' : 'quarantine.left', ...(reason ? { details: { source: reason } } : {}) });
    void this.tick();
  }

  private enqueue(e: ConnectionEvent): void {
    this.queue.push(e);
    const max = this.d.maxQueued ?? 256;
    if (this.queue.length > max) {
      this.dropped += this.queue.length - max;
      this.queue = this.queue.slice(-max);
    }
  }

  private async send(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, MAX_PER_POST);
      try {
        await this.d.post({ events: batch });
      } catch (err) {
        if (isRefusal(err) && (err.code === ErrorCode.BAD_REQUEST || err.code === ErrorCode.BODY_TOO_LARGE)) {
          this.d.log.error({ code: err.code, err: err.message }, 'controller refused connection events as malformed; dropped them');
        } else {
          this.d.log.debug({ err: (err as Error).message }, 'could not send connection events; keeping them for the next try');
          return;
        }
      }
      this.queue = this.queue.slice(batch.length);
    }
  }

  /** stop ends the timer and makes one last attempt to send what is queued. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    await this.send().catch(() => undefined);
  }
}

/** relayEndpointsOf is where each relay among the peers forwards (its endpoints' hosts at its relay port), keyed host:port → relay name. */
export function relayEndpointsOf(peers: ReadonlyArray<{ name: string; endpoints: readonly string[]; relay?: { port: number } | null }>): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of peers) {
    if (!p.relay) continue;
    for (const e of p.endpoints) {
      const host = e.startsWith('[') ? e.slice(0, e.indexOf(']') + 1) : e.slice(0, e.lastIndexOf(':'));
      if (host !== '') out.set(`${host}:${p.relay.port}`, p.name);
    }
  }
  return out;
}
