import type { Logger } from 'pino';
import type { NetworkMap } from '../netmap/types';
import type { HookRunner } from '../plugins/hook-runner';
import type { ReconfigureResult, WgConfig, WgDevice, WgPeerConfig } from '../wg/types';
import type { AgentLink } from './agent-link';
import type { Prefs } from './prefs';
import type { ProbeTarget } from './probes/probe-scheduler';
import { kernelRoutePrefixes, toWgConfig } from './to-wg-config';
import { withOnDemandPeers } from './on-demand-peers';
import type { ExitChoice, ExitState } from './exit-choice';
import { EXIT_FWMARK } from './prefs';

/** The routing table of the exit node's default route (as wg-quick: 51820). */
export const EXIT_TABLE = 51820;

export type MapSource = 'controller' | 'cache';

export interface ApplyInfo {
  map: NetworkMap;
  source: MapSource;
  durationMs: number;
  result: ReconfigureResult;
  at: number;
}

export interface ReconfigurerOptions {
  device: WgDevice;
  hooks: HookRunner;
  link: Pick<AgentLink, 'syncAddresses' | 'syncRoutes' | 'syncExitRouting'>;
  /** The exit node choice (`--exit-node`); absent: no exit node. */
  exit?: ExitChoice;
  /** Told each time the exit node in use changes (for the audit log: conn.exit.switched). */
  onExitSwitch?: (e: { from: ExitState['current']; to: ExitState['current']; problem: string | null }) => void;
  privateKey: string;
  listenPort: number;
  prefs: Prefs;
  log: Logger;
  /** Receives the peers of every applied map (the probe scheduler, once it runs). */
  probes?: () => { setPeers(peers: ProbeTarget[]): void } | null;
  /** Called after each successful apply. */
  onApplied?: (info: ApplyInfo) => void;
  /** Enforces map.packetFilter (packet-filter/); applied in this loop, right after the device. */
  packetFilter?: { apply(map: NetworkMap): Promise<unknown> } | null;
  /** Forwarding of a topology hub (hub-forwarding.ts); applied before the packet filter. */
  hubForwarding?: { apply(map: NetworkMap): Promise<unknown> } | null;
  /**
   * The endpoint the path choice picked per peer (public key → "ip:port"), written instead of the
   * map's first endpoint; peers without one keep the map's (paths/ on the agent).
   */
  endpointOverrides?: () => ReadonlyMap<string, string>;
  /**
   * Peers added beside the map's: remote spokes configured on demand through a hub's relay
   * (on-demand-peers.ts). Never over a peer the map has; written by applyPaths() when they change.
   */
  extraPeers?: () => readonly WgPeerConfig[];
  now?: () => number;
}

/**
 * A queued job: apply a map, remove every peer (revocation), write a new private key alone, or
 * write the chosen paths' endpoints (restarting the sessions of `rehandshake` peers).
 */
type Job = { kind: 'map'; map: NetworkMap } | { kind: 'clear' } | { kind: 'key' } | { kind: 'paths'; rehandshake: Set<string> };

interface Pending {
  job: Job;
  source: MapSource;
  waiters: Array<() => void>;
}

/**
 * Reconfigurer is the one serialized loop that turns maps into device state. Pending maps are
 * coalesced: while one apply runs only the newest waiting map is kept, so two updates never race
 * and a burst of maps costs at most two applies. A failed apply keeps the last good state.
 */
export class Reconfigurer {
  private pending: Pending | null = null;
  private running: Promise<void> | null = null;
  private written: WgConfig | null = null;
  private addrKey: string | null = null;
  private routesKey: string | null = null;
  private exitKey: string | null = null;
  private exitState: ExitState | null = null;
  private exitTimer: NodeJS.Timeout | null = null;
  private _exitSwitches = 0;
  private _lastDurationMs: number | null = null;
  private _lastError: string | null = null;
  private _applies = 0;
  private readonly now: () => number;
  private privateKey: string;
  /** The last map applied (successfully or not), so a key change can write it again with the new key. */
  private lastMap: { map: NetworkMap; source: MapSource } | null = null;
  /** The last map's config before path overrides (what applyPaths writes again). */
  private lastBase: WgConfig | null = null;
  /** Peers whose session the next write restarts (applyPaths). */
  private readonly rehandshake = new Set<string>();
  /** Peers whose endpoint the device holds is not the one written (reassertEndpoints): public key → what the device holds. */
  private readonly drifted = new Map<string, string | null>();

  constructor(private readonly opts: ReconfigurerOptions) {
    this.now = opts.now ?? Date.now;
    this.privateKey = opts.privateKey;
  }

  /** The config last written to the device; null when unknown. */
  get lastWritten(): WgConfig | null {
    return this.written;
  }
  get lastDurationMs(): number | null {
    return this._lastDurationMs;
  }
  get lastError(): string | null {
    return this._lastError;
  }
  /** The exit node in use and why the preferred one is not; null without --exit-node. */
  get exit(): ExitState | null {
    return this.exitState;
  }

  /** How many times the exit node in use changed (to the fallback, back, or to none) since the agent started. */
  get exitSwitches(): number {
    return this._exitSwitches;
  }

  /** removeExitRouting takes the exit-node policy routing away (the agent stops). */
  async removeExitRouting(): Promise<void> {
    if (this.exitTimer) clearTimeout(this.exitTimer);
    this.exitTimer = null;
    if (this.opts.exit?.enabled && this.opts.link.syncExitRouting) await this.opts.link.syncExitRouting(this.opts.device.name, null);
    this.exitKey = null;
  }

  /** How many applies ran (successful or not). */
  get applies(): number {
    return this._applies;
  }

  /**
   * schedule queues map for applying; resolves once it (or a newer map that replaced it) was
   * applied or failed. Never rejects.
   */
  schedule(map: NetworkMap, source: MapSource = 'controller'): Promise<void> {
    return this.enqueue({ kind: 'map', map }, source);
  }

  /** clearPeers removes every peer from the device (revocation), through the same loop. */
  clearPeers(): Promise<void> {
    return this.enqueue({ kind: 'clear' }, 'controller');
  }

  /** preparePrivateKey sets the key the next apply writes, writing nothing now (the device may not be up yet). */
  preparePrivateKey(key: string): void {
    this.privateKey = key;
  }

  /**
   * setPrivateKey makes key the device's private key, through the same loop, keeping every peer
   * (wireguard-go keeps them and only renegotiates sessions). Resolves true once the device holds
   * it, false when the write failed (the next apply retries it).
   */
  async setPrivateKey(key: string): Promise<boolean> {
    this.privateKey = key;
    await this.enqueue({ kind: 'key' }, this.lastMap?.source ?? 'controller');
    return this.written?.privateKey === key;
  }

  /**
   * applyPaths writes the endpoints endpointOverrides gives now, through the same loop: only
   * `endpoint=` of the peers whose path changed. A peer in `rehandshake` is removed and added
   * again in the same write, so WireGuard starts a new handshake at once over the new endpoint (a
   * relay forwards a session only from the handshake it carried). Resolves once written or failed.
   */
  applyPaths(rehandshake: Iterable<string> = []): Promise<void> {
    return this.enqueue({ kind: 'paths', rehandshake: new Set(rehandshake) }, this.lastMap?.source ?? 'controller');
  }

  /**
   * reassertEndpoints writes the chosen endpoints again for peers whose endpoint on the device
   * drifted from what this loop wrote (WireGuard roams on any authenticated datagram, a late one
   * over an old path too): `actual` is what the device holds per public key. The diff against
   * what was written would see nothing to do, so the written config first takes the device's
   * endpoints; the write is then `endpoint=` alone, sessions kept. Resolves once written or failed.
   */
  reassertEndpoints(actual: ReadonlyMap<string, string | null>): Promise<void> {
    for (const [k, ep] of actual) this.drifted.set(k, ep);
    return this.enqueue({ kind: 'paths', rehandshake: new Set() }, this.lastMap?.source ?? 'controller');
  }

  /** idle resolves when nothing is running or pending. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private enqueue(job: Job, source: MapSource): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.pending) {
        // Any waiting job writes the current private key and paths, so a key or paths job never
        // replaces it; peers to re-handshake are kept whichever job runs.
        const keepRehandshake = (from: Job, to: Job) => {
          if (from.kind === 'paths') for (const k of from.rehandshake) this.rehandshake.add(k);
          if (to.kind === 'paths') for (const k of to.rehandshake) this.rehandshake.add(k);
        };
        keepRehandshake(this.pending.job, job);
        if (job.kind !== 'key' && job.kind !== 'paths') {
          this.pending.job = job;
          this.pending.source = source;
        }
        this.pending.waiters.push(resolve);
      } else {
        this.pending = { job, source, waiters: [resolve] };
      }
      if (!this.running) this.running = this.drain();
    });
  }

  private async drain(): Promise<void> {
    await Promise.resolve(); // let enqueue() record `running` before anything below can clear it
    try {
      while (this.pending) {
        const job = this.pending;
        this.pending = null;
        try {
          if (job.job.kind === 'map') await this.applyOne(job.job.map, job.source);
          else if (job.job.kind === 'clear') await this.clearOne();
          else if (job.job.kind === 'paths') {
            for (const k of job.job.rehandshake) this.rehandshake.add(k);
            await this.writePaths();
          } else await this.writeKey();
        } finally {
          for (const w of job.waiters) w();
        }
      }
    } finally {
      // Cleared synchronously after the last check of `pending`, so a waiter that schedules again starts a new drain.
      this.running = null;
    }
  }

  /** writeKey writes the current private key: with the last map's peers, or alone when none was applied. */
  private async writeKey(): Promise<void> {
    if (this.lastMap) return this.applyOne(this.lastMap.map, this.lastMap.source);
    const next: WgConfig = { privateKey: this.privateKey, listenPort: this.opts.listenPort, peers: this.written?.peers ?? [] };
    try {
      await this.opts.device.reconfigure(next, this.written);
      this.written = next;
    } catch (err) {
      this.written = null;
      this.opts.log.error({ err }, 'could not write the new private key to the device');
    }
  }

  /**
   * writeDevice writes next, first without the peers to re-handshake when there are any. On a
   * failure the device may be half-written, so the next apply reads it back instead of trusting a diff.
   */
  private async writeDevice(next: WgConfig): Promise<ReconfigureResult> {
    const { device } = this.opts;
    if (this.drifted.size > 0 && this.written) {
      const drifted = new Map(this.drifted);
      this.drifted.clear();
      const peers = this.written.peers.map((p) => (drifted.has(p.publicKey) ? { ...p, endpoint: drifted.get(p.publicKey)! } : p));
      this.written = { ...this.written, peers };
    }
    this.drifted.clear();
    try {
      if (this.rehandshake.size > 0 && this.written) {
        const restart = new Set(this.rehandshake);
        this.rehandshake.clear();
        const without: WgConfig = { ...next, peers: next.peers.filter((p) => !restart.has(p.publicKey)) };
        await device.reconfigure(without, this.written);
        this.written = without;
      }
      const result = await device.reconfigure(next, this.written);
      this.written = next;
      return result;
    } catch (err) {
      this.written = null;
      throw err;
    }
  }

  /** writePaths writes the last map's config again with the current chosen endpoints. */
  private async writePaths(): Promise<void> {
    if (!this.lastBase) return;
    try {
      await this.writeDevice(this.withPaths({ ...this.lastBase, privateKey: this.privateKey }));
    } catch (err) {
      this.opts.log.error({ err }, 'could not write the chosen paths to the device; the next apply retries');
    }
  }

  /** withPaths puts the chosen endpoints into a config (a new object when any differs). */
  private withPaths(base: WgConfig): WgConfig {
    const extra = this.opts.extraPeers?.() ?? [];
    const config = extra.length > 0 ? withOnDemandPeers(base, extra) : base;
    const overrides = this.opts.endpointOverrides?.();
    if (!overrides || overrides.size === 0) return config;
    let changed = false;
    const peers = config.peers.map((p) => {
      const ep = overrides.get(p.publicKey);
      if (ep === undefined || ep === p.endpoint) return p;
      changed = true;
      return { ...p, endpoint: ep };
    });
    return changed ? { ...config, peers } : config;
  }

  private async clearOne(): Promise<void> {
    this.lastMap = null;
    this.lastBase = null;
    const empty: WgConfig = {
      privateKey: this.privateKey,
      listenPort: this.opts.listenPort,
      peers: [],
    };
    try {
      await this.opts.device.reconfigure(empty, this.written);
      this.written = empty;
      this.opts.probes?.()?.setPeers([]);
    } catch (err) {
      this.written = null;
      this.opts.log.error({ err }, 'could not remove the peers from the device');
    }
  }

  private async applyOne(map: NetworkMap, source: MapSource): Promise<void> {
    const { device, hooks, link, log, prefs } = this.opts;
    const started = process.hrtime.bigint();
    this._applies++;
    this.lastMap = { map, source };
    let result: ReconfigureResult;
    try {
      const choice = this.opts.exit?.choose(map, this.now()) ?? null;
      const base = toWgConfig(map, prefs, this.privateKey, this.opts.listenPort, choice?.current?.id ?? null);
      let next = base;
      try {
        const transformed = await hooks.runSequential('transformWgConfig', base, map);
        if (transformed && Array.isArray(transformed.peers) && typeof transformed.privateKey === 'string') next = transformed;
        else log.error({ hook: 'transformWgConfig' }, 'a plugin returned an unusable WireGuard config; using the untransformed one');
      } catch (err) {
        log.error({ err, hook: 'transformWgConfig' }, 'plugin hook failed; using the untransformed WireGuard config');
      }
      this.lastBase = next;
      result = await this.writeDevice(this.withPaths(next));

      const self = map.self;
      const addrs = [`${bare(self.addresses.ipv4)}/32`, `${bare(self.addresses.ipv6)}/128`];
      const routes = kernelRoutePrefixes(map, prefs);
      const addrKey = addrs.join(',');
      const routesKey = routes.join(',');
      if (addrKey !== this.addrKey) {
        this.addrKey = null;
        await link.syncAddresses(device.name, addrs);
        this.addrKey = addrKey;
      }
      if (routesKey !== this.routesKey) {
        this.routesKey = null;
        await link.syncRoutes(device.name, routes);
        this.routesKey = routesKey;
      }
      if (choice && link.syncExitRouting) {
        const spec = choice.current ? { table: EXIT_TABLE, fwmark: EXIT_FWMARK, exclude: prefs.exclude ?? [] } : null;
        const exitKey = JSON.stringify(spec);
        if (exitKey !== this.exitKey) {
          this.exitKey = null;
          await link.syncExitRouting(device.name, spec);
          this.exitKey = exitKey;
          log.info({ exitNode: choice.current?.name ?? null, problem: choice.problem }, choice.current ? 'traffic leaves through the exit node' : 'no exit node in use');
        }
        const before = this.exitState;
        if (before && (before.current?.id ?? null) !== (choice.current?.id ?? null)) {
          this._exitSwitches++;
          log.info({ from: before.current?.name ?? null, to: choice.current?.name ?? null, problem: choice.problem }, 'exit node switched');
          this.opts.onExitSwitch?.({ from: before.current, to: choice.current, problem: choice.problem });
        }
        this.exitState = { current: choice.current, problem: choice.problem };
        if (this.exitTimer) clearTimeout(this.exitTimer);
        this.exitTimer = null;
        if (choice.wakeAt !== null) {
          this.exitTimer = setTimeout(() => {
            this.exitTimer = null;
            if (this.lastMap) void this.schedule(this.lastMap.map, this.lastMap.source);
          }, Math.max(0, choice.wakeAt - this.now()) + 5);
          this.exitTimer.unref();
        }
      }
      if (this.opts.hubForwarding) {
        try {
          await this.opts.hubForwarding.apply(map);
        } catch (err) {
          log.error({ err, version: map.version }, 'switching hub forwarding failed');
        }
      }
      if (this.opts.packetFilter) {
        try {
          await this.opts.packetFilter.apply(map);
        } catch (err) {
          // The previous filter stays in force: failing closed or open here is the filter's call, not ours.
          log.error({ err, version: map.version }, 'applying the packet filter failed; the previous filter stays in force');
        }
      }
    } catch (err) {
      this._lastError = err instanceof Error ? err.message : String(err);
      this._lastDurationMs = elapsedMs(started);
      log.error({ err, version: map.version }, 'applying the network map failed; keeping the last good state');
      return;
    }
    this._lastError = null;
    const durationMs = elapsedMs(started);
    this._lastDurationMs = durationMs;
    log.info({ version: map.version, source, durationMs, summary: result.summary }, 'network map applied');

    try {
      this.opts.probes?.()?.setPeers(
        map.peers.filter((p) => p.id !== map.self.id).map((p) => ({ id: p.id, name: p.name, address: bare(p.addresses.ipv4) })),
      );
    } catch (err) {
      log.warn({ err }, 'could not update the probe targets');
    }
    this.opts.onApplied?.({ map, source, durationMs, result, at: this.now() });
    try {
      await hooks.runParallel('onNetworkMap', map);
    } catch (err) {
      log.error({ err, hook: 'onNetworkMap' }, 'plugin hook failed');
    }
  }
}

/** bare strips a prefix length, so "100.64.0.1/32" and "100.64.0.1" read the same. */
function bare(addr: string): string {
  const i = addr.indexOf('/');
  return i === -1 ? addr : addr.slice(0, i);
}

function elapsedMs(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e6;
}
