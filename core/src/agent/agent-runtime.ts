/**
 * AgentRuntime owns the running pieces of one started agent — device, apply loop, map session,
 * packet filter, probes, telemetry, metrics, reports and the local API — starts them in order and
 * tears them down in reverse, each step on its own so one failure does not leak the rest.
 */
import type { Logger } from 'pino';
import { existsSync } from 'node:fs';
import { AgentMetrics } from '../metrics/agent-metrics';
import { RelayMetrics } from '../metrics/relay-metrics';
import type { TrellisMetrics } from '../metrics/trellis-metrics';
import type { StatusTextSource } from '../api/status-text';
import type { NetworkMapData } from '../netmap/types';
import type { HookRunner } from '../plugins/hook-runner';
import { BUNDLED_TRELLIS_WG, nodeRelayControlSocketPath, trellisWgUnavailableReason } from '../wg/trellis-wg';
import type { WgDevice } from '../wg/types';
import type { AgentKeyStatus, AgentRelayStatus, AgentStatus } from '../wire';
import type { AgentLink } from './agent-link';
import { AgentStatusReader, type AppliedMap } from './agent-status';
import { AgentTimers } from './agent-timers';
import { ConnectionEventReporter, relayEndpointsOf } from './connection-events';
import type { ControllerClient } from './controller-client';
import { defaultStunServers } from './default-stun-servers';
import { CandidateBook, type FoundCandidate } from './endpoint-candidates';
import { EndpointReporter } from './endpoint-reporter';
import { FactsReporter } from './facts-reporter';
import { ed25519PrivateKey } from '../auth/keys';
import { newIdentity } from './identity';
import { IdentityRenewer } from './identity-renewer';
import type { IdentityState } from './identity-state';
import { WgKeyRotator } from './wg-key-rotator';
import { agentSocketPath, LocalApi } from './local-api';
import { MapCache } from './map-cache';
import { MapSession } from './map-session';
import { NodeRelay } from './node-relay';
import { OverlayProbes } from './overlay-probes';
import { PacketFilter } from './packet-filter';
import type { Prefs } from './prefs';
import type { ProbeSample } from './probes/probe-scheduler';
import { Reconfigurer } from './reconfigurer';
import { ExitChoice } from './exit-choice';
import { installedRoutes } from './to-wg-config';
import { RouteGateway } from './route-gateway';
import { HubForwarding } from './hub-forwarding';
import { RouteHealth } from './route-health';
import { RouteReporter } from './route-reporter';
import { ExitReporter } from './exit-reporter';
import { DEFAULT_PROBE_INTERVAL_MS, DEFAULT_PROBE_PORT, type AgentIntervals, type StartAgentOptions } from './start-options';
import { AgentTelemetry, type TelemetryOptions } from './telemetry/agent-telemetry';
import { AgentPaths } from './paths/agent-paths';

export interface RuntimeDeps {
  opts: StartAgentOptions;
  log: Logger;
  prefs: Prefs;
  link: AgentLink;
  intervals: AgentIntervals;
  listenPort: number;
  identity: IdentityState;
  client: ControllerClient;
  hooks: HookRunner;
  device: WgDevice;
  ownHost: { shutdown(): Promise<void> } | null;
  discoverEndpoints: () => Promise<string[]>;
  /** The underlay candidates (local and uplink addresses with the listen port); reflexive ones are added here. */
  discoverCandidates: () => Promise<FoundCandidate[]>;
  telemetryOptions: TelemetryOptions;
  metrics: TrellisMetrics;
  maxPeerSeries: number | undefined;
  /** Filled by plugins during setup (AgentAccess.registerStatusText). */
  statusTextSources: readonly StatusTextSource[];
}

export class AgentRuntime {
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly reconf: Reconfigurer;
  private readonly session: MapSession;
  private readonly api: LocalApi;
  private readonly packetFilter: PacketFilter;
  private readonly hubForwarding: HubForwarding;
  private readonly telemetry: AgentTelemetry;
  private readonly connEvents: ConnectionEventReporter;
  private readonly agentMetrics: AgentMetrics;
  private readonly probes: OverlayProbes;
  private readonly facts: FactsReporter;
  private readonly endpoints: EndpointReporter;
  private readonly timers: AgentTimers;
  private readonly reader: AgentStatusReader;
  private readonly rotator: WgKeyRotator;
  private readonly renewer: IdentityRenewer;
  private readonly relay: NodeRelay;
  private readonly paths: AgentPaths;
  private readonly candidates = new CandidateBook();
  /** Set when the node advertises routes (a gateway or exit node). */
  private readonly gateway: { forwarding: RouteGateway; health: RouteHealth; reporter: RouteReporter } | null = null;
  /** Tells the controller which exit node this node uses; null without --exit-node. */
  private readonly exitReporter: ExitReporter | null = null;
  private relayEndpoints: ReadonlyMap<string, string> = new Map();
  private peerNames: { nameById: Map<string, string>; nameByKey: Map<string, string>; idByKey: Map<string, string> } = { nameById: new Map(), nameByKey: new Map(), idByKey: new Map() };
  private applied: AppliedMap | null = null;
  private deviceUp = false;
  private apiUp = false;
  private stopping: Promise<void> | null = null;

  constructor(private readonly d: RuntimeDeps) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    const isStopping = () => this.stopping !== null;
    this.packetFilter = new PacketFilter({ iface: d.opts.iface, probePort: d.opts.probePort ?? DEFAULT_PROBE_PORT, log: d.log, nft: d.opts.nft });
    this.hubForwarding = new HubForwarding({ iface: d.opts.iface, log: d.log });
    this.probes = new OverlayProbes({
      factory: d.opts.probes,
      port: d.opts.probePort ?? DEFAULT_PROBE_PORT,
      intervalMs: d.opts.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS,
      log: d.log,
      sink: () => this.probeSink(),
      currentMap: () => this.applied?.map ?? null,
      stopping: isStopping,
    });
    this.relay = new NodeRelay({
      controlSocket: nodeRelayControlSocketPath(d.opts.iface),
      log: d.log,
      unavailable: () => (existsSync(BUNDLED_TRELLIS_WG) ? null : `${trellisWgUnavailableReason()}, so it cannot relay`),
    });
    this.paths = new AgentPaths({
      controlSocket: async () => {
        const info = await d.device.describe?.().catch(() => null);
        if (!info) return { socket: null, reason: 'the device does not say whether it has a control socket' };
        return { socket: info.disco?.available ? info.disco.socket : null, reason: info.disco?.reason ?? 'the device has no control socket (it is not trellis-wg)' };
      },
      self: () => {
        const id = d.identity.get();
        return { id: id.nodeId ?? '', wgKey: id.wg.publicKey, privateKey: id.wg.privateKey };
      },
      apply: (rehandshake) => this.reconf.applyPaths(rehandshake),
      onSwitch: (e) => this.agentMetrics.recordPathSwitch(e.peerName, e.label, e.cause),
      // WireGuard roams onto any path an authenticated datagram came over: the chosen endpoint is written back when the device's drifts.
      device: {
        endpoints: async () => new Map(this.deviceUp ? (await d.device.stats()).map((p) => [p.publicKey, p.endpoint] as const) : []),
        reassert: (found) => this.reconf.reassertEndpoints(found),
      },
      onReassert: (e) => this.agentMetrics.recordEndpointReassert(e.peerName, e.label),
      underlay: () => d.link.listUnderlayAddresses([d.opts.iface]),
      onCandidatesChanged: () => void this.endpoints.report(),
      stunServers: d.opts.stun ?? defaultStunServers(d.opts.controllerUrl),
      listenPort: () => d.listenPort,
      log: d.log,
      wgStats: () => (this.deviceUp ? d.device.stats() : Promise.resolve([])),
      onDemandChanged: () => void this.reconf.applyPaths([]),
      ...(d.opts.onDemandIdleMs !== undefined ? { onDemandIdleMs: d.opts.onDemandIdleMs } : {}),
    });
    const exit = d.prefs.exitNode ? new ExitChoice({ exitNode: d.prefs.exitNode, exitNodeFallback: d.prefs.exitNodeFallback ?? null }) : undefined;
    this.reconf = new Reconfigurer({
      exit,
      onExitSwitch: ({ from, to, problem }) =>
        this.connEvents.record({ kind: 'exit.switched', peer: (to ?? from)!.id, details: { from: from?.name ?? null, to: to?.name ?? null, reason: problem?.slice(0, 256) ?? null } }),
      endpointOverrides: () => this.paths.endpointOverrides(),
      extraPeers: () => this.paths.onDemandPeers(),
      packetFilter: this.packetFilter,
      hubForwarding: this.hubForwarding,
      device: d.device,
      hooks: d.hooks,
      link: d.link,
      privateKey: d.identity.get().wg.privateKey,
      listenPort: d.listenPort,
      prefs: d.prefs,
      log: d.log,
      probes: () => this.probes.runner,
      onApplied: (info) => {
        const spokeCandidates = this.applied?.map.self.candidates !== undefined;
        this.applied = { map: info.map, source: info.source, at: info.at };
        // A controller that starts carrying candidates (an upgrade) hears this node's at once.
        if (spokeCandidates !== (info.map.self.candidates !== undefined)) void this.endpoints?.report();
        this.notePeers(info.map);
        this.paths.onMap(info.map);
        this.connEvents.noteQuarantine(info.map.self.quarantined === true, info.source);
        void this.probes.ensure(info.map);
        if (!isStopping()) void this.relay.sync(info.map, d.identity.get().wg.privateKey);
        // A decision on this gateway's routes changes its map: learn the new statuses.
        if (info.source === 'controller') void this.gateway?.reporter.report();
        // The exit node in use may have changed with the map (an exit node offline, approved, back).
        void this.exitReporter?.report();
      },
    });
    this.telemetry = new AgentTelemetry({
      stateDir: d.opts.stateDir,
      nodeName: () => this.applied?.map.self.name ?? d.identity.get().name,
      peers: () => this.peerNames,
      pathOf: (peerId) => this.paths.pathLabel(peerId),
      wgStats: () => (this.deviceUp ? d.device.stats() : Promise.resolve([])),
      relayStats: async () => {
        const info = await this.relay.info();
        if (!info) return null;
        const drops = Object.values(info.counters.drops).reduce((a, b) => a + b, 0);
        return {
          port: info.port,
          forwardedPackets: info.counters.forwardedPackets,
          forwardedBytes: info.counters.forwardedBytes,
          droppedPackets: drops,
          droppedNotAllowed: info.counters.drops.notAllowed ?? 0,
          nodes: info.nodes.filter((n) => n.address !== '').length,
          sessions: info.routes,
        };
      },
      post: (batch) => d.client.postTelemetry(batch),
      hooks: d.hooks,
      log: d.log,
      options: d.telemetryOptions,
    });
    this.connEvents = new ConnectionEventReporter({
      wgStats: () => (this.deviceUp ? d.device.stats() : Promise.resolve([])),
      peerIdsByKey: () => this.peerNames.idByKey,
      relayEndpoints: () => this.relayEndpoints,
      post: (body) => d.client.postConnectionEvents(body),
      log: d.log,
    });
    this.session = new MapSession({
      client: d.client,
      cache: new MapCache(d.opts.stateDir),
      log: d.log,
      backoff: d.opts.backoff,
      onMap: (map) => void this.reconf.schedule(map, 'controller'),
      onRevoked: (err) => this.onRevoked(err.message),
      onKeyState: (state) => {
        this.rotator.onKeyState(state);
        this.renewer.onKeyState(state);
      },
      onConnection: (connected, lastError) => {
        if (connected) {
          d.log.info('connected to the controller');
          this.endpoints.forget();
          void this.endpoints.report();
          void this.gateway?.reporter.report();
          this.exitReporter?.forget();
          void this.exitReporter?.report();
        } else if (lastError) d.log.warn({ lastError }, 'disconnected from the controller');
      },
    });
    this.facts = new FactsReporter({
      hooks: d.hooks,
      post: (body) => d.client.postFacts(body),
      log: d.log,
      revoked: () => this.session.revoked,
      stopping: isStopping,
    });
    this.endpoints = new EndpointReporter({
      // The reflexive addresses (STUN on the WireGuard socket) are candidates like the local ones.
      discover: async () => {
        const candidates = this.candidates.stamp([...(await d.discoverCandidates()), ...this.paths.reflexiveCandidates()]);
        const endpoints = candidates.map((c) => c.address);
        // Candidates only to a controller whose maps carry them (one before them refuses the field).
        return this.applied?.map.self.candidates !== undefined ? { endpoints, candidates } : { endpoints };
      },
      post: (r) => d.client.postEndpoints(r.endpoints, d.opts.relay ?? null, r.candidates),
      log: d.log,
      idle: () => isStopping() || this.session.revoked,
    });
    const exitNode = d.prefs.exitNode;
    if (exitNode) {
      this.exitReporter = new ExitReporter({
        state: () => {
          const e = this.reconf.exit;
          // Nothing to say before the first map chose.
          if (!e) return null;
          return { preferred: exitNode, fallback: d.prefs.exitNodeFallback ?? null, inUse: e.current?.name ?? null, problem: e.problem, switches: this.reconf.exitSwitches };
        },
        post: (body) => d.client.postExitUse(body),
        log: d.log,
        idle: () => isStopping() || this.session.revoked,
      });
    }
    const ad = d.opts.advertise;
    if (ad && (ad.routes.length > 0 || ad.exit)) {
      const health = new RouteHealth({
        checks: ad.routes.filter((r) => r.check !== null).map((r) => ({ prefix: r.prefix, check: r.check! })),
        intervalMs: ad.checkIntervalMs,
        onChange: () => void this.gateway?.reporter.report(),
      });
      const reporter = new RouteReporter({
        advertisement: { routes: ad.routes, priority: ad.priority, exit: ad.exit },
        health: () => health.health(),
        post: (body) => d.client.postRoutes(body),
        log: d.log,
        idle: () => isStopping() || this.session.revoked,
      });
      this.gateway = { forwarding: new RouteGateway({ iface: d.opts.iface, snat: ad.snat, log: d.log, nft: d.opts.nft }), health, reporter };
    }
    this.rotator = new WgKeyRotator({
      identity: d.identity,
      setDeviceKey: (key) => this.reconf.setPrivateKey(key),
      lease: () => d.client.leaseWgRotation(),
      register: (wgKey, reason) => d.client.registerWgKey(wgKey, reason),
      fetchState: () => d.client.getKeyState(undefined, 5_000),
      connected: () => this.session.connected,
      onKeyChanged: () => {
        this.facts.refresh();
        if (this.applied && !isStopping()) void this.relay.sync(this.applied.map, d.identity.get().wg.privateKey);
      },
      log: d.log,
    });
    this.renewer = new IdentityRenewer({
      identity: d.identity,
      renew: (current, next) => d.client.renewIdentity(current, next),
      fetchState: (key) => d.client.getKeyState(key, 5_000),
      useIdentity: (pair) => d.client.setIdentity(d.identity.get().nodeId!, ed25519PrivateKey(pair)),
      log: d.log,
    });
    this.reader = new AgentStatusReader({
      identity: () => d.identity.get(),
      keys: () => this.keyStatus(),
      iface: d.opts.iface,
      controllerUrl: () => d.client.url,
      controllerFailovers: () => d.client.failovers,
      listenPort: d.listenPort,
      device: d.device,
      deviceUp: () => this.deviceUp,
      probes: this.probes,
      applied: () => this.applied,
      connection: () => ({ connected: this.session.connected, lastError: this.session.lastError ?? this.reconf.lastError }),
      lastApplyMs: () => this.reconf.lastDurationMs,
      posture: () => this.facts.posture,
      statusTextSources: d.statusTextSources,
      hooks: d.hooks,
      log: d.log,
      paths: this.paths,
      installedRoutes: (map) => installedRoutes(map, d.prefs),
      routeInclude: d.prefs.include,
      exit: () => (d.prefs.exitNode ? { preferred: d.prefs.exitNode, fallback: d.prefs.exitNodeFallback ?? null, inUse: this.reconf.exit?.current?.name ?? null, problem: this.reconf.exit?.problem ?? null, exclude: d.prefs.exclude ?? [], switches: this.reconf.exitSwitches } : null),
      hubForwarding: () => this.hubForwarding.forwarding,
      onDemand: () => this.paths.onDemandStatus(),
      advertisedRoutes: () => {
        const gw = this.gateway;
        if (!gw) return null;
        const health = gw.health.health();
        const checks = new Map((d.opts.advertise?.routes ?? []).map((r) => [r.prefix, r.check]));
        return {
          advertised: gw.reporter.stored.map((r) => ({ ...r, check: checks.get(r.prefix) ?? null, checkOk: health[r.prefix] ?? null })),
          forwarding: gw.forwarding.forwarding,
          lastError: gw.reporter.lastError,
        };
      },
    });
    this.agentMetrics = new AgentMetrics(d.metrics.meter('trellis.agent'), () => this.reader.metricsSnapshot(), { maxPeerSeries: d.maxPeerSeries });
    new RelayMetrics(d.metrics.meter('trellis.agent.relay'), async () => {
      const info = await this.relay.info();
      if (!info) return null;
      const { forwardedPackets, forwardedBytes, pingsAccepted, drops } = info.counters;
      return { forwardedPackets, forwardedBytes, pingsAccepted, drops, writeErrors: info.writeErrors, nodes: info.nodes.filter((n) => n.address !== '').length, pairs: info.pairs, routes: info.routes };
    });
    this.timers = new AgentTimers(d.intervals, {
      reportEndpoints: () => void this.endpoints.report(),
      refreshFacts: () => this.facts.refresh(),
      samplePeerStats: d.hooks.has('onPeerStats') ? () => void this.emitPeerStats() : null,
    });
    this.api = new LocalApi({
      socketPath: agentSocketPath(d.opts.stateDir),
      status: () => this.status(),
      onDown: () => void this.stop(),
      log: d.log,
    });
  }

  async start(enrollMap: NetworkMapData | null): Promise<void> {
    const { device, link, prefs, log } = this.d;
    // A crash or a lost answer may have left a renewal or rotation open: settle which keys the
    // controller holds before signing anything else or configuring the device.
    await this.renewer.resolvePending().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'an identity renewal was left unfinished and the controller cannot say which key it holds; trying again later'));
    await this.rotator.resolvePending();
    this.reconf.preparePrivateKey(this.d.identity.get().wg.privateKey);
    await device.up();
    this.deviceUp = true;
    await link.setLinkUp(device.name, prefs.mtu);
    await this.paths.start();
    if (enrollMap) {
      await this.session.seed(enrollMap);
    } else {
      const cached = await this.session.loadCache();
      if (cached) {
        log.info({ version: cached.version, peers: cached.peers.length }, 'restoring the mesh from the cached map');
        void this.reconf.schedule(cached, 'cache');
      }
    }
    await this.reconf.idle();
    await this.api.listen();
    this.apiUp = true;
    if (this.gateway) {
      await this.gateway.forwarding.start();
      await this.gateway.health.checkOnce();
      await this.gateway.reporter.first();
      this.gateway.health.start();
    }
    this.session.start();
    this.telemetry.start();
    this.connEvents.start();
    void this.endpoints.report();
    this.facts.refresh();
    this.timers.start();
  }

  async status(): Promise<AgentStatus> {
    const [status, relay] = await Promise.all([this.reader.status(), this.relayStatus()]);
    return { ...status, relay };
  }

  /** relayStatus is the node's relay forwarder for `trellis status`; null when the node is no relay. */
  private async relayStatus(): Promise<AgentRelayStatus | null> {
    const r = this.relay.status();
    if (r.port === null) return null;
    const info = await this.relay.info();
    const drops = Object.fromEntries(Object.entries(info?.counters.drops ?? {}).filter(([, n]) => n > 0));
    return {
      port: r.port,
      running: r.running,
      pairs: info?.pairs ?? r.pairs,
      nodes: info?.nodes.filter((n) => n.address !== '').length ?? 0,
      sessions: info?.routes ?? 0,
      forwardedPackets: info?.counters.forwardedPackets ?? 0,
      forwardedBytes: info?.counters.forwardedBytes ?? 0,
      drops,
      error: r.error,
    };
  }

  private keyStatus(): AgentKeyStatus {
    const state = this.rotator.controllerState;
    return {
      wgKeyCreatedAt: state?.wgKeyCreatedAt ?? this.d.identity.get().wgKeyCreatedAt ?? null,
      rotationIntervalMs: state?.rotationIntervalMs ?? null,
      nextRotationAt: this.rotator.nextRotationAt,
      rotateRequested: state?.rotateRequestedAt != null,
      rotating: this.rotator.rotating,
      lastRotation: this.rotator.last,
      identityExpiresAt: this.renewer.expiresAt,
      nextRenewalAt: this.renewer.nextRenewalAt,
      lastRenewal: this.renewer.lastRenewal,
    };
  }

  /** refreshFacts collects facts and posture now (AgentAccess.requestFactsRefresh). */
  refreshFacts(): void {
    this.facts.refresh();
  }

  /** probeSink feeds each probe outcome to telemetry and to the RTT histogram. */
  private async probeSink(): Promise<(s: ProbeSample) => void> {
    const toTelemetry = await this.telemetry.probeSink();
    return (s) => {
      toTelemetry(s);
      const name = this.peerNames.nameById.get(s.peerId);
      if (name !== undefined) this.agentMetrics.recordProbe(name, s.rttUs);
    };
  }

  /** notePeers keeps the id/key → name lookups telemetry and metrics label rows with, and where the relays listen. */
  private notePeers(map: AppliedMap['map']): void {
    const peers = map.peers.filter((p) => p.id !== map.self.id);
    this.relayEndpoints = relayEndpointsOf(peers);
    this.peerNames = {
      nameById: new Map(peers.map((p) => [p.id, p.name])),
      nameByKey: new Map(peers.map((p) => [p.wgKey, p.name])),
      idByKey: new Map(peers.map((p) => [p.wgKey, p.id])),
    };
    this.agentMetrics.setPeerCount(peers.length);
    if (typeof this.reconf.lastDurationMs === 'number') this.agentMetrics.recordApply(this.reconf.lastDurationMs);
  }

  private async onRevoked(message: string): Promise<void> {
    const { opts, log, identity } = this.d;
    await Promise.all([this.rotator.stop(), this.renewer.stop()]);
    await this.reconf.clearPeers();
    await this.relay.stop();
    this.applied = null;
    await Promise.resolve(this.probes.runner?.setPeers([]));
    // The revoked node id and keys are dead (the controller refuses them for good): the next
    // `trellis up --auth-key` enrolls a new node with new keys.
    await identity.update((i) => newIdentity(i.name, opts.controllerUrl)).catch((err: unknown) =>
      log.error({ err }, 'could not reset identity.json after revocation'),
    );
    log.error(`${message}; the tunnels were removed. Run \`trellis up\` again with a new auth key.`);
  }

  private async emitPeerStats(): Promise<void> {
    try {
      await this.d.hooks.runParallel('onPeerStats', await this.reader.peerStatsSample());
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message }, 'could not sample peer stats');
    }
  }

  stop(): Promise<void> {
    if (!this.stopping) this.stopping = this.teardown();
    return this.stopping;
  }

  private async teardown(): Promise<void> {
    const { log, device, ownHost } = this.d;
    this.timers.stop();
    await Promise.all([this.rotator.stop(), this.renewer.stop()]);
    const step = async (what: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (err) {
        log.error({ err }, `stopping: ${what} failed`);
      }
    };
    await step('map session', () => this.session.stop());
    await step('reconfiguration', () => this.reconf.idle());
    this.gateway?.health.stop();
    this.gateway?.reporter.stop();
    this.exitReporter?.stop();
    await step('pending reports', () => Promise.all([this.facts.pending, this.endpoints.pending, this.gateway?.reporter.pending, this.exitReporter?.pending]));
    await step('telemetry', () => this.telemetry.stop());
    await step('connection events', () => this.connEvents.stop());
    await step('probes', () => this.probes.stop());
    await step('paths', () => this.paths.stop());
    await step('packet filter', () => this.packetFilter.stop());
    await step('hub forwarding', () => this.hubForwarding.stop());
    await step('relay', () => this.relay.stop());
    if (this.gateway) await step('route forwarding', () => this.gateway!.forwarding.stop());
    await step('exit routing', () => this.reconf.removeExitRouting());
    if (this.deviceUp) await step('device', () => device.down());
    this.deviceUp = false;
    if (this.apiUp) await step('local API', () => this.api.close());
    this.apiUp = false;
    if (ownHost) await step('plugins', () => ownHost.shutdown());
    await step('metrics', () => this.d.metrics.shutdown());
    log.info('agent stopped');
    this.resolveDone();
  }
}

