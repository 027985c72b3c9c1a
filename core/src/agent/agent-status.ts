/**
 * What the agent says about itself and its peers: the status `trellis status` shows, the snapshot
 * a metrics collection observes, and the onPeerStats sample. All three join the applied map's
 * peers with the device's WireGuard figures (by key) and the probes' figures (by peer id).
 */
import type { Logger } from 'pino';
import type { PeerProbeStats, PeerStatsSample, PostureDecision } from '../api/hooks';
import type { StatusText, StatusTextSource } from '../api/status-text';
import type { AgentMetricsSnapshot } from '../metrics/agent-metrics';
import type { NetworkMap } from '../netmap/types';
import type { HookRunner } from '../plugins/hook-runner';
import type { WgDevice, WgDeviceInfo, WgPeerStats } from '../wg/types';
import { segmentationOffloadOn } from '../wg/tun-offloads';
import type { AgentKeyStatus, AgentPathsStatus, AgentRoutesStatus, AgentStatus, AgentTopologyStatus, PeerStatus } from '../wire';
import type { NodeIdentity } from './identity';
import type { OverlayProbes } from './overlay-probes';
import type { MapSource } from './reconfigurer';
import { forwardedSubnets, isOverlayTransit } from './to-wg-config';
import type { OnDemandStatus } from './on-demand-peers';

/** The map in force on the device, where it came from and when it was applied. */
export interface AppliedMap {
  map: NetworkMap;
  source: MapSource;
  at: number;
}

export interface AgentStatusSources {
  identity: () => NodeIdentity;
  keys: () => AgentKeyStatus;
  iface: string;
  /** The controller URL in use (the first of several until a failover). */
  controllerUrl: () => string;
  /** Times requests moved to another controller. */
  controllerFailovers?: () => number;
  listenPort: number;
  device: WgDevice;
  deviceUp: () => boolean;
  probes: OverlayProbes;
  applied: () => AppliedMap | null;
  connection: () => { connected: boolean; lastError: string | null };
  lastApplyMs: () => number | null;
  posture: () => PostureDecision | null;
  /** The gateway side (advertised routes, forwarding); null when the node advertises none. */
  advertisedRoutes?: () => Pick<AgentRoutesStatus, 'advertised' | 'forwarding' | 'lastError'> | null;
  /** The exit node wanted and in use; null without --exit-node. */
  exit?: () => AgentRoutesStatus['exit'];
  /** A topology hub forwards between spokes (hub-forwarding.ts). */
  hubForwarding?: () => boolean;
  /** On-demand spoke peers (agent/on-demand-peers.ts); null without the device's control socket. */
  onDemand?: () => OnDemandStatus | null;
  /** The subnets the last applied map installs under the prefs. */
  installedRoutes?: (map: NetworkMap) => Array<{ prefix: string; via: string; gateway?: string }>;
  /** `--route-include`, when set. */
  routeInclude?: readonly string[];
  /** Plugins' status text sources (AgentAccess.registerStatusText), in registration order. */
  statusTextSources: readonly StatusTextSource[];
  hooks: HookRunner;
  log: Logger;
  /** Path choice: each peer's path label and the whole picture for `trellis paths`; absent in tests without it. */
  paths?: { pathLabel(peerId: string): string; relayedS(peerId: string): number | null; status(): Promise<AgentPathsStatus> };
}

interface JoinedPeer {
  peer: NetworkMap['peers'][number];
  wg: WgPeerStats | undefined;
  probe: PeerProbeStats | undefined;
}

/** A peer is up while its last handshake is younger than WireGuard's reject-after time. */
const UP_WITHIN_S = 180;

export class AgentStatusReader {
  constructor(private readonly s: AgentStatusSources) {}

  async status(): Promise<AgentStatus> {
    const { iface, controllerUrl, listenPort } = this.s;
    const identity = this.s.identity();
    const applied = this.s.applied();
    const map = applied?.map ?? null;
    const peers: PeerStatus[] = (await this.joinedPeers(map)).map(({ peer: p, wg: s, probe }) => ({
      id: p.id,
      name: p.name,
      wgKey: p.wgKey,
      addresses: { ...p.addresses },
      endpoint: s?.endpoint ?? (p.endpoints.length > 0 ? p.endpoints[0] : null),
      allowedIps: s ? [...s.allowedIps] : [...p.allowedIps],
      lastHandshake: s?.lastHandshake ?? null,
      rxBytes: s?.rxBytes ?? 0,
      txBytes: s?.txBytes ?? 0,
      probe: probe ?? null,
      ...(this.s.paths ? { path: this.s.paths.pathLabel(p.id) } : {}),
      ...(p.hub ? { hub: true } : {}),
    }));
    const addresses = map ? { ...map.self.addresses } : identity.addresses;
    return {
      node: { id: identity.nodeId, name: identity.name, iface, addresses, wgKey: identity.wg.publicKey, listenPort },
      controller: { url: controllerUrl(), ...this.s.connection() },
      map: {
        version: map?.version ?? 0,
        epoch: map?.epoch ?? null,
        source: applied?.source ?? 'none',
        appliedAt: applied?.at ?? null,
        lastApplyMs: this.s.lastApplyMs(),
      },
      device: await this.deviceInfo(),
      peers,
      posture: this.s.posture(),
      extensions: await this.statusSections(),
      statusText: await this.statusText(),
      keys: this.s.keys(),
      ...(this.s.paths ? { paths: await this.s.paths.status() } : {}),
      routes: this.routes(map),
      topology: this.topology(map),
    };
  }

  /** topology: the node's role as its map gives it (self.hub, a transit route through a hub). */
  private topology(map: NetworkMap | null): AgentTopologyStatus {
    const transit = (map?.routes ?? []).filter((r) => isOverlayTransit(map!, r) && r.via !== map!.self.id);
    const hub = transit[0]?.via ?? null;
    const nameOf = (id: string) => map!.peers.find((p) => p.id === id)?.name ?? id;
    const name = hub ? nameOf(hub) : null;
    const role = map?.self.hub ? 'hub' : hub ? 'spoke' : 'mesh';
    const forwards = map ? forwardedSubnets(map).map((f) => ({ prefix: f.prefix, via: nameOf(f.via) })) : [];
    const od = this.s.onDemand?.() ?? null;
    const onDemand = od && od.candidates + od.staged + od.open > 0 ? { candidates: od.candidates, staged: od.staged, open: od.open } : null;
    return { role, via: name, transit: transit.map((r) => r.prefix), forwarding: this.s.hubForwarding?.() ?? false, ...(forwards.length > 0 ? { forwards } : {}), ...(onDemand ? { onDemand } : {}) };
  }

  private routes(map: NetworkMap | null): AgentRoutesStatus {
    const gw = this.s.advertisedRoutes?.() ?? null;
    const names = new Map((map?.peers ?? []).map((p) => [p.id, p.name]));
    const installed = map && this.s.installedRoutes
      ? this.s.installedRoutes(map).map((r) => ({ prefix: r.prefix, via: names.get(r.via) ?? r.via, ...(r.gateway ? { gateway: r.gateway } : {}) }))
      : [];
    const include = this.s.routeInclude && this.s.routeInclude.length > 0 ? { include: [...this.s.routeInclude] } : {};
    return { installed, ...include, advertised: gw?.advertised ?? [], forwarding: gw?.forwarding ?? false, lastError: gw?.lastError ?? null, exit: this.s.exit?.() ?? null };
  }

  /** metricsSnapshot is what a metrics collection observes: per-peer WireGuard and probe figures. */
  async metricsSnapshot(): Promise<AgentMetricsSnapshot> {
    const map = this.s.applied()?.map ?? null;
    const now = Date.now();
    const peers = (await this.joinedPeers(map)).map(({ peer, wg: s, probe: pr }) => {
      const age = s?.lastHandshake != null ? Math.max(0, (now - s.lastHandshake) / 1000) : null;
      return {
        name: peer.name,
        loss: pr?.loss ?? null,
        jitterUs: pr?.jitterUs ?? 0,
        rxBytes: s?.rxBytes ?? 0,
        txBytes: s?.txBytes ?? 0,
        handshakeAgeS: age,
        up: age !== null && age < UP_WITHIN_S,
        relayedS: this.s.paths?.relayedS(peer.id) ?? null,
      };
    });
    const posture = this.s.posture();
    const d = await this.deviceInfo();
    const device = d && { driver: d.driver, version: d.version, commit: d.commit, segmentationOffload: d.offloads ? segmentationOffloadOn(d.offloads) : null, fallback: d.fallback !== null };
    const e = this.s.exit?.() ?? null;
    const exit = e && { preferred: e.preferred, fallback: e.fallback, inUse: e.inUse, switches: e.switches };
    const od = this.s.onDemand?.() ?? null;
    const onDemand = od && { staged: od.staged, open: od.open, added: od.added, removedIdle: od.removedIdle, handshakeFailed: od.handshakeFailed, evicted: od.evicted };
    return { peers, netmapVersion: map?.version ?? 0, compliant: posture === null ? null : posture.compliant, device, controllerFailovers: this.s.controllerFailovers?.() ?? 0, exit, onDemand };
  }

  /** peerStatsSample is what onPeerStats hooks get; it throws when the device cannot be read. */
  async peerStatsSample(): Promise<PeerStatsSample> {
    const [wg, probes] = await Promise.all([this.s.device.stats(), Promise.resolve(this.s.probes.runner?.stats() ?? [])]);
    return { at: Date.now(), wg, probes };
  }

  /** joinedPeers are the map's peers (not the node itself) with their device and probe figures. */
  private async joinedPeers(map: NetworkMap | null): Promise<JoinedPeer[]> {
    if (!map) return [];
    const wg = this.s.deviceUp() ? await this.s.device.stats().catch(() => [] as WgPeerStats[]) : [];
    const byKey = new Map(wg.map((s) => [s.publicKey, s]));
    const byId = new Map(this.s.probes.stats().map((p) => [p.peerId, p]));
    return map.peers.filter((p) => p.id !== map.self.id).map((peer) => ({ peer, wg: byKey.get(peer.wgKey), probe: byId.get(peer.id) }));
  }

  /** deviceInfo says which build serves the interface and its offloads; null while down or unreadable. */
  private async deviceInfo(): Promise<WgDeviceInfo | null> {
    const { device } = this.s;
    if (!this.s.deviceUp() || !device.describe) return null;
    return device.describe().catch((err: Error) => {
      this.s.log.warn({ err: err.message }, 'could not describe the WireGuard device');
      return null;
    });
  }

  /** statusText renders every registered source; a failing one is logged and left out. */
  private async statusText(): Promise<StatusText[]> {
    const context = { posture: this.s.posture() };
    const texts = await Promise.all(
      this.s.statusTextSources.map(async (source) => {
        try {
          return await source(context);
        } catch (err) {
          this.s.log.warn({ err: (err as Error).message }, 'a plugin could not render its status text');
          return null;
        }
      }),
    );
    return texts.filter((t): t is StatusText => t !== null && t !== undefined);
  }

  /** statusSections gathers each plugin's statusSection, keyed by plugin name; a failing one is left out. */
  private async statusSections(): Promise<Record<string, unknown>> {
    try {
      const named = await this.s.hooks.runParallelNamed('statusSection');
      return Object.fromEntries(Object.entries(named).filter(([, v]) => v !== undefined && v !== null));
    } catch (err) {
      this.s.log.warn({ err: (err as Error).message }, 'could not collect plugin status sections');
      return {};
    }
  }
}
