/**
 * probes: overlay RTT, loss and jitter per peer, measured with UDP ping/pong between agents.
 */
export { ProbeScheduler } from './probe-scheduler';
export type { ProbeSample, ProbeSchedulerOptions, ProbeTarget } from './probe-scheduler';
export { systemProbeClock } from './probe-clock';
export type { ProbeClock } from './probe-clock';
export { PeerWindow } from './peer-window';
export type { PeerWindowStats, ReplyOutcome } from './peer-window';
export {
  decodeProbe,
  encodeProbe,
  PROBE_HEADER_BYTES,
  PROBE_MAGIC,
  PROBE_MAX_NODE_ID_BYTES,
  PROBE_VERSION,
  ProbeEncoder,
  ProbeType,
} from './probe-codec';
export type { ProbePacket } from './probe-codec';
