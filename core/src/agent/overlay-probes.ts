/**
 * OverlayProbes keeps one probe runner bound to this node's overlay IPv4. The address is known
 * only once a map is applied and can change with a later map, so the runner is (re)started from
 * the apply loop; probes failing to start never stop the mesh.
 */
import type { Logger } from 'pino';
import type { PeerProbeStats } from '../api/hooks';
import type { NetworkMap } from '../netmap/types';
import type { ProbeRunner, ProbeRunnerFactory } from './probe-runner';
import { ProbeScheduler, type ProbeSample, type ProbeTarget } from './probes/probe-scheduler';

export interface OverlayProbesOptions {
  /** Makes the runner; default a ProbeScheduler. */
  factory?: ProbeRunnerFactory;
  port: number;
  intervalMs: number;
  log: Logger;
  /** A fresh sample consumer per runner (telemetry reserves a seq range for each). */
  sink: () => Promise<(s: ProbeSample) => void>;
  /** The map applied now: a runner that took a while to start probes the newest peers. */
  currentMap: () => NetworkMap | null;
  /** True once the agent is stopping: no runner starts after that. */
  stopping: () => boolean;
}

const defaultFactory: ProbeRunnerFactory = (cfg) => new ProbeScheduler(cfg);

/** probeTargets are the map's peers, without the node itself, as the prober addresses them. */
export function probeTargets(map: NetworkMap): ProbeTarget[] {
  return map.peers.filter((p) => p.id !== map.self.id).map((p) => ({ id: p.id, name: p.name, address: p.addresses.ipv4.split('/')[0] }));
}

export class OverlayProbes {
  private current: ProbeRunner | null = null;
  private boundTo: string | null = null;

  constructor(private readonly o: OverlayProbesOptions) {}

  /** The running prober, or null before the first map and after stop. */
  get runner(): ProbeRunner | null {
    return this.current;
  }

  /** stats are the runner's per-peer figures; none while it is not running or when it fails. */
  stats(): PeerProbeStats[] {
    try {
      return this.current?.stats() ?? [];
    } catch {
      return [];
    }
  }

  /** ensure (re)starts the runner when the map's overlay IPv4 differs from the one it is bound to. */
  async ensure(map: NetworkMap): Promise<void> {
    if (this.o.stopping()) return;
    const addr = map.self.addresses.ipv4.split('/')[0];
    if (this.boundTo === addr) return;
    const old = this.current;
    this.current = null;
    this.boundTo = addr;
    if (old) await Promise.resolve(old.stop()).catch(() => undefined);
    try {
      const onSample = await this.o.sink();
      const runner = (this.o.factory ?? defaultFactory)({
        bindAddress: addr,
        port: this.o.port,
        intervalMs: this.o.intervalMs,
        nodeId: map.self.id,
        onSample,
      });
      await runner.start();
      if (this.o.stopping()) {
        await runner.stop();
        return;
      }
      this.current = runner;
      runner.setPeers(probeTargets(this.o.currentMap() ?? map));
    } catch (err) {
      this.boundTo = null;
      this.o.log.warn({ err: (err as Error).message }, 'overlay probes could not start; the mesh runs without them');
    }
  }

  /** stop ends the runner; call it once the agent is stopping, so none starts again. */
  async stop(): Promise<void> {
    const runner = this.current;
    this.current = null;
    await runner?.stop();
  }
}
