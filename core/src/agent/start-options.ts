/**
 * What startAgent takes beyond AgentOptions: the seams tests use (hooks, device, link, probes,
 * fetch, nft) and the intervals of the agent's periodic work.
 */
import type { Logger } from 'pino';
import type { HookRunner } from '../plugins/hook-runner';
import type { WgDevice } from '../wg/types';
import type { AgentLink } from './agent-link';
import type { BackoffOptions } from './backoff';
import type { NftRunner } from './packet-filter';
import type { Prefs } from './prefs';
import type { ProbeRunnerFactory } from './probe-runner';
import type { TelemetryOptions } from './telemetry/agent-telemetry';
import type { AgentOptions } from './types';

export const DEFAULT_LISTEN_PORT = 51820;
export const DEFAULT_PROBE_PORT = 51999;
export const DEFAULT_PROBE_INTERVAL_MS = 1000;
/** The UDP port a relay (`trellis up --relay`) forwards on unless --relay-port says otherwise. */
export const DEFAULT_RELAY_PORT = 51821;

/** How often the agent looks at things that may change under it, ms. */
export interface AgentIntervals {
  /** Underlay endpoint check. Default 10 000. */
  endpointsMs: number;
  /** Facts collection and posture evaluation. Default 30 000. */
  factsMs: number;
  /** onPeerStats samples (only when a plugin has the hook). Default 5 000. */
  peerStatsMs: number;
}

export const DEFAULT_INTERVALS: AgentIntervals = { endpointsMs: 10_000, factsMs: 30_000, peerStatsMs: 5_000 };

export interface StartAgentOptions extends AgentOptions {
  hooks?: HookRunner;
  log?: Logger;
  device?: WgDevice;
  prefs?: Partial<Prefs>;
  /** Host network operations; default wg/link.ts. */
  link?: AgentLink;
  /** Makes the probe runner; default a ProbeScheduler. */
  probes?: ProbeRunnerFactory;
  fetch?: typeof fetch;
  intervals?: Partial<AgentIntervals>;
  /** Backoff for enrollment and the map stream; default 250 ms → 30 s. */
  backoff?: BackoffOptions;
  /** Aborts a startup still waiting for an unreachable controller to enroll. */
  signal?: AbortSignal;
  /** Telemetry delivery; overrides `agent.settings.telemetry` of the config file. */
  telemetry?: Partial<TelemetryOptions>;
  /** Metrics cardinality; overrides `agent.settings.metrics` of the config file. */
  metrics?: { maxPeerSeries?: number };
  /** Runs nft scripts for the packet filter; default `nft -f -` in the agent's namespace. */
  nft?: NftRunner;
}
