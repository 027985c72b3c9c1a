/** What `trellis paths` and the `path` column of `trellis status` read from the agent's local API. */
import type { CandidateKind } from '../netmap/types';
import type { PathSwitchCause } from '../paths';

/** A path switch, as metrics, logs, telemetry and `trellis paths` see it. */
export interface PathSwitchEvent {
  at: number;
  peerId: string;
  peerName: string;
  from: string | null;
  to: string;
  /** 'direct' or the relay's name, as probe rows label paths. */
  label: string;
  /** Why: the path choice's cause, or 'adopted' on the node that follows its peer's choice. */
  cause: PathSwitchCause | 'adopted';
  reason: string;
}

/** One candidate path to a peer. */
export interface PathCandidateStatus {
  id: string;
  kind: 'direct' | 'relay';
  endpoint: string;
  /** The relay's name for relayed candidates. */
  relay: string | null;
  /** Learned from the peer's pings (an address it never advertised: it moved, or its NAT mapped it). */
  learned: boolean;
  /** For a direct candidate the peer advertised: how it learned the address (local, uplink, reflexive); absent when its map does not say. */
  endpointKind?: CandidateKind;
  live: boolean;
  rttMs: number | null;
  loss: number | null;
  jitterMs: number;
  costMs: number | null;
  lastReplyAgoMs: number | null;
  /** How often it died as the active path (within the last 10 minutes), and how long it is still held down, ms. */
  deaths: number;
  heldDownMs: number;
}

/** One peer's path. */
export interface PeerPathStatus {
  peerId: string;
  peer: string;
  /** 'decides': this node has the lower id; 'follows': it adopts what the peer decides. */
  role: 'decides' | 'follows';
  active: string | null;
  /** 'direct' or the relay's name. */
  label: string;
  /** The endpoint written to WireGuard for the path; null while the map's first endpoint stands. */
  endpoint: string | null;
  /** Why the active path is the one in use. */
  reason: string;
  since: number | null;
  switches: number;
  lastSwitch: PathSwitchEvent | null;
  /** The endpoint the device held at the last drift check (null: none); absent before the first check or from older agents. */
  deviceEndpoint?: string | null;
  /** Times the chosen endpoint was written back because the device's had drifted (WireGuard roamed onto another path). */
  endpointReasserts?: number;
  candidates: PathCandidateStatus[];
}

/** A relay this node pings (to be reachable through it), as it answers. */
export interface RelayPathStatus {
  relay: string;
  endpoint: string;
  live: boolean;
  rttMs: number | null;
  /** This node's address as the relay saw it. */
  observed: string | null;
}

/** Disco datagrams refused, by why. */
export type DiscoDropReason = 'malformed' | 'notForUs' | 'unknownSender' | 'mac' | 'stale' | 'badBody';

/** This node's NAT, classified from the answers of two or more STUN server addresses on the WireGuard socket. */
export interface AgentNatStatus {
  /** open: no NAT; easy: one mapping for every destination; hard: a mapping per destination; unknown: too few answers. */
  type: 'open' | 'easy' | 'hard' | 'unknown';
  /** What the answers showed, in one sentence. */
  reason: string;
  /** STUN server → the address it saw (null: no answer). */
  mappings: Record<string, string | null>;
  /** When it was classified, Unix ms. */
  at: number;
  /** False behind a hard NAT: a reflexive address there reaches only whoever saw it, so none is reported as a candidate. */
  advertisesReflexive: boolean;
}

export interface AgentPathsStatus {
  /** False with a device that has no control socket (upstream wireguard-go): reason says why. */
  available: boolean;
  reason: string | null;
  peers: PeerPathStatus[];
  relays: RelayPathStatus[];
  /** This node's NAT-mapped WireGuard addresses (STUN on the WireGuard socket, and what relays saw). */
  reflexive: string[];
  drops: Record<DiscoDropReason, number> | null;
  /** This node's NAT; absent until STUN servers at two or more addresses answered (or from older agents). */
  nat?: AgentNatStatus;
}
