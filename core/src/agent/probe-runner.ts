import type { PeerProbeStats } from '../api/hooks';
import type { ProbeSample, ProbeTarget } from './probes/probe-scheduler';

/** ProbeRunner is what the agent needs from probes/probe-scheduler.ts (a fake in tests). */
export interface ProbeRunner {
  start(): unknown;
  setPeers(peers: ProbeTarget[]): void;
  stats(): PeerProbeStats[];
  stop(): unknown;
}

export interface ProbeRunnerConfig {
  bindAddress: string;
  port: number;
  intervalMs: number;
  nodeId: string;
  /** Told about every probe outcome (telemetry, metrics). */
  onSample?: (s: ProbeSample) => void;
}

export type ProbeRunnerFactory = (cfg: ProbeRunnerConfig) => ProbeRunner;
