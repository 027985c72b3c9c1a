import type { NetworkMap } from '../netmap/types';
import type { WgConfig, WgPeerStats } from '../wg/types';
import type { AccessDecision, AccessDecisionRequest } from './access';
import type { NodeInfo, PostureDecision } from './node-info';
import type { RouteApproval, RouteApprovalRequest, TopologyDecision } from './routes';
import type { TelemetryBatch, TelemetryContribution } from './telemetry';

export type { NodeInfo, PostureDecision } from './node-info';

/**
 * Hook kinds, after Rollup:
 * - first: plugins run in load order; the first non-null result wins and the rest are skipped.
 * - sequential: plugins run in load order; each result is the next plugin's input.
 * - parallel: every plugin runs at once; results (if any) are collected, failures are logged.
 */
export type HookKind = 'first' | 'sequential' | 'parallel';

/** Facts a device reports about itself, merged from every collectFacts hook. */
export type Facts = Record<string, unknown>;

export interface PeerProbeStats {
  peerId: string;
  peerName: string;
  /** Microseconds; null until the first counted reply. */
  rttUs: number | null;
  /**
   * Lost fraction 0..1 over the sliding window of probes sent once the peer had answered once;
   * null while there is no such settled probe (never answered: "no reply", not 0 %).
   */
  loss: number | null;
  /** RFC 3550 interarrival jitter, microseconds. */
  jitterUs: number;
  /** Counted probes in the window (sent once the peer had answered) and how many were answered. */
  sent: number;
  received: number;
  /** Probes in the window sent before the peer's first reply: counted neither as received nor as lost. */
  early: number;
  /** Whether the peer ever answered a probe (a reply path exists). */
  replied: boolean;
}

export interface PeerStatsSample {
  at: number;
  wg: WgPeerStats[];
  probes: PeerProbeStats[];
}

export interface NodeEvent {
  kind: 'enrolled' | 'online' | 'offline' | 'revoked' | 'expired' | 'facts' | 'removed' | 'key-rotated' | 'identity-renewed' | 'relay-changed';
  nodeId: string;
  nodeName: string;
  at: number;
  details?: Record<string, unknown>;
}

/** One entry of the controller's hash-chained audit log, as exporters receive it (onAuditEvents). */
export interface AuditRecordEvent {
  seq: number;
  /** Unix ms. */
  at: number;
  action: string;
  actor: string;
  target: string | null;
  details: Record<string, unknown>;
  /** The entry's chain hash; null for entries older than the chain. */
  hash: string | null;
}

/** The signature of every hook; the kind of each is fixed in HOOK_KINDS. */
export interface HookSignatures {
  /** agent: gather device facts (OS, kernel, disk encryption, ...). */
  collectFacts: () => Promise<Facts> | Facts;
  /** agent: decide posture locally from facts. */
  evaluatePosture: (facts: Facts) => Promise<PostureDecision | null> | PostureDecision | null;
  /** agent: adjust the WireGuard config just before it is written. */
  transformWgConfig: (config: WgConfig, map: NetworkMap) => Promise<WgConfig> | WgConfig;
  /** agent: a new NetworkMap was applied to the device. */
  onNetworkMap: (map: NetworkMap) => Promise<void> | void;
  /** agent: a fresh sample of per-peer WireGuard and probe stats. */
  onPeerStats: (sample: PeerStatsSample) => Promise<void> | void;
  /**
   * controller: decide who sees whom and each node's packet filter, as grants (api/access.ts), for
   * the whole mesh or for the nodes that changed. null: no decision (every approved node sees every
   * other, no packet filter).
   */
  decideAccess: (request: AccessDecisionRequest) => Promise<AccessDecision | null> | AccessDecision | null;
  /**
   * controller: this plugin's extension for one node's map, stored at extensions[plugin name]
   * (null or undefined: no key). It must depend on the node (and the plugin's state) only: core
   * calls it for the nodes that changed; a plugin whose state changed calls requestMapRebuild.
   * Return a plain value: a promise costs a timer per node.
   */
  mapExtension: (node: NodeInfo) => unknown;
  /**
   * controller: a gateway advertises a route no admin decided on (and again for policy-approved
   * routes when the policy changes). null: no opinion (the route waits for an admin).
   */
  approveRoute: (request: RouteApprovalRequest) => Promise<RouteApproval | null> | RouteApproval | null;
  /** controller: on every full build, the topology the policy chooses; null: the controller's config decides. */
  decideTopology: () => Promise<TopologyDecision | null> | TopologyDecision | null;
  /** controller: a node joined, came online, went offline, was revoked, or reported facts. */
  onNodeEvent: (event: NodeEvent) => Promise<void> | void;
  /** controller: a telemetry batch arrived from an agent; exporters write it out. */
  onTelemetry: (batch: TelemetryBatch) => Promise<void> | void;
  /** controller: new audit log entries, in seq order, about once a second; exporters write them out. */
  onAuditEvents: (events: readonly AuditRecordEvent[]) => Promise<void> | void;
  /** agent: rows a plugin adds to the next telemetry batch (e.g. shaping class stats). */
  collectTelemetry: () => Promise<TelemetryContribution> | TelemetryContribution;
  /** agent: sections shown in `trellis status` under the plugin's name. */
  statusSection: () => Promise<unknown> | unknown;
}

export type HookName = keyof HookSignatures;

/**
 * Hooks earlier cores had, with what replaced them: a plugin that still defines one is refused at
 * load time (its hook would silently never run).
 */
export const REMOVED_HOOKS: Readonly<Record<string, string>> = {
  transformNetworkMap: 'decideAccess (who sees whom, packet filters) and mapExtension (the plugin\'s own extension)',
  transformNetworkMaps: 'decideAccess (who sees whom, packet filters) and mapExtension (the plugin\'s own extension)',
};

/** Each hook's kind. Adding a hook to HookSignatures without a kind here does not compile. */
export const HOOK_KINDS = {
  collectFacts: 'parallel',
  evaluatePosture: 'first',
  transformWgConfig: 'sequential',
  onNetworkMap: 'parallel',
  onPeerStats: 'parallel',
  decideAccess: 'first',
  mapExtension: 'parallel',
  approveRoute: 'first',
  decideTopology: 'first',
  onNodeEvent: 'parallel',
  onTelemetry: 'parallel',
  onAuditEvents: 'parallel',
  collectTelemetry: 'parallel',
  statusSection: 'parallel',
} as const satisfies Record<HookName, HookKind>;

export type HooksOfKind<K extends HookKind> = {
  [H in HookName]: (typeof HOOK_KINDS)[H] extends K ? H : never;
}[HookName];

/** A first hook must be able to answer null ("not mine"). */
type AssertFirst<H extends HookName> = null extends Awaited<ReturnType<HookSignatures[H]>> ? true : never;
/** A sequential hook returns the type of its first argument. */
type AssertSequential<H extends HookName> =
  Awaited<ReturnType<HookSignatures[H]>> extends Parameters<HookSignatures[H]>[0] ? true : never;
// Compile-time check that every hook's signature fits its kind.
const _kindChecks: { [H in HooksOfKind<'first'>]: AssertFirst<H> } & {
  [H in HooksOfKind<'sequential'>]: AssertSequential<H>;
} = { evaluatePosture: true, decideAccess: true, approveRoute: true, decideTopology: true, transformWgConfig: true };
void _kindChecks;
