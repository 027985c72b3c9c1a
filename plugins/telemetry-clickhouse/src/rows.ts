/**
 * Telemetry row types as callers send them (camelCase, epoch milliseconds) and as they are stored
 * (snake_case columns). Every stored row carries a dedup key that is part of its table's sorting
 * key, so ReplacingMergeTree collapses a replayed copy: probes dedup on (src, dst, path, ts, seq),
 * every other table on (batch_id, row_idx) of the caller's batch.
 */
import { randomUUID } from 'node:crypto';
import { clickhouseErrors } from './errors';

/** One probe round trip (or loss) from src to dst over a path: 'direct' or the relay used. */
export interface ProbeSample {
  at: number;
  src: string;
  dst: string;
  path: string;
  seq: number;
  /** null when the probe was lost. */
  rttUs: number | null;
  lost: boolean;
  jitterUs: number;
}

export interface TunnelStat {
  at: number;
  node: string;
  peer: string;
  rxBytes: number;
  txBytes: number;
  /** Seconds since the last handshake; null when there never was one. */
  handshakeAgeS: number | null;
}

export interface ShapingClassStat {
  at: number;
  node: string;
  iface: string;
  classId: string;
  bytes: number;
  packets: number;
  drops: number;
  overlimits: number;
  backlog: number;
}

/** One sample of a relay node's forwarder: counters since it started, and what it serves then. */
export interface RelayStat {
  at: number;
  node: string;
  port: number;
  forwardedPackets: number;
  forwardedBytes: number;
  droppedPackets: number;
  droppedNotAllowed: number;
  nodes: number;
  sessions: number;
}

export interface PostureRecord {
  at: number;
  node: string;
  compliant: boolean;
  reasons: string[];
  policyVersion?: string;
}

export const NODE_EVENT_KINDS = ['join', 'leave', 'online', 'offline', 'revoke', 'quarantine'] as const;
export type NodeEventKind = (typeof NODE_EVENT_KINDS)[number];

export interface NodeEventRecord {
  at: number;
  node: string;
  kind: NodeEventKind;
  details?: Record<string, unknown>;
}

export interface AuditRecord {
  at: number;
  action: string;
  actor: string;
  target?: string;
  details?: Record<string, unknown>;
}

/**
 * TelemetryBatch is the unit callers export. batchId should be stable when the same batch is
 * sent again (an agent retrying): it is the dedup key of every non-probe row.
 */
export interface TelemetryBatch {
  batchId?: string;
  probes?: ProbeSample[];
  tunnels?: TunnelStat[];
  shaping?: ShapingClassStat[];
  relays?: RelayStat[];
  posture?: PostureRecord[];
  nodeEvents?: NodeEventRecord[];
  audit?: AuditRecord[];
}

export const TABLES = ['probe_samples', 'tunnel_stats', 'shaping_stats', 'posture_decisions', 'node_events', 'audit_events', 'relay_stats'] as const;
export type TableName = (typeof TABLES)[number];

/** A stored row: column name to JSON value. The block_id column comes from the insert block (SpoolRecord.id), not the row. */
export type DbRow = Record<string, string | number | string[]>;

export type RowsByTable = Partial<Record<TableName, DbRow[]>>;

const MAX_U32 = 0xffff_ffff;

function check(table: TableName, i: number, ok: boolean, what: string): void {
  if (!ok) throw clickhouseErrors.badRow(table, i, what);
}
const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 256;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER;
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v / 1000 <= MAX_U32;

function timeCols(at: number): { ts: number; ts_ms: number } {
  return { ts: Math.floor(at / 1000), ts_ms: Math.floor(at) };
}

function probeRow(p: ProbeSample, i: number): DbRow {
  const t: TableName = 'probe_samples';
  check(t, i, isTime(p?.at), '"at" must be epoch milliseconds');
  check(t, i, isName(p.src) && isName(p.dst), '"src" and "dst" must be node names');
  check(t, i, isName(p.path), '"path" must be "direct" or the relay name');
  check(t, i, isCount(p.seq), '"seq" must be a non-negative integer');
  check(t, i, typeof p.lost === 'boolean', '"lost" must be true or false');
  check(t, i, p.lost || (typeof p.rttUs === 'number' && p.rttUs >= 0 && p.rttUs <= MAX_U32), '"rttUs" must be microseconds unless lost');
  check(t, i, typeof p.jitterUs === 'number' && p.jitterUs >= 0 && p.jitterUs <= MAX_U32, '"jitterUs" must be microseconds');
  // One literal with a fixed shape (no spread): probes are the high-volume rows, and a spread
  // followed by more keys costs a shape transition per key for every row.
  return {
    ts: Math.floor(p.at / 1000),
    ts_ms: Math.floor(p.at),
    src: p.src,
    dst: p.dst,
    path: p.path,
    seq: p.seq,
    rtt_us: p.lost ? 0 : Math.round(p.rttUs ?? 0),
    lost: p.lost ? 1 : 0,
    jitter_us: Math.round(p.jitterUs),
  };
}

function tunnelRow(s: TunnelStat, i: number): DbRow {
  const t: TableName = 'tunnel_stats';
  check(t, i, isTime(s?.at), '"at" must be epoch milliseconds');
  check(t, i, isName(s.node) && isName(s.peer), '"node" and "peer" must be names');
  check(t, i, isCount(s.rxBytes) && isCount(s.txBytes), '"rxBytes" and "txBytes" must be byte counts');
  check(t, i, s.handshakeAgeS === null || (typeof s.handshakeAgeS === 'number' && s.handshakeAgeS >= 0), '"handshakeAgeS" must be seconds or null');
  return {
    ...timeCols(s.at),
    node: s.node,
    peer: s.peer,
    rx_bytes: s.rxBytes,
    tx_bytes: s.txBytes,
    handshake_age_s: s.handshakeAgeS === null ? -1 : Math.floor(s.handshakeAgeS),
  };
}

function shapingRow(s: ShapingClassStat, i: number): DbRow {
  const t: TableName = 'shaping_stats';
  check(t, i, isTime(s?.at), '"at" must be epoch milliseconds');
  check(t, i, isName(s.node) && isName(s.iface) && isName(s.classId), '"node", "iface" and "classId" must be names');
  for (const k of ['bytes', 'packets', 'drops', 'overlimits', 'backlog'] as const) check(t, i, isCount(s[k]), `"${k}" must be a non-negative integer`);
  return {
    ...timeCols(s.at),
    node: s.node,
    iface: s.iface,
    class_id: s.classId,
    bytes: s.bytes,
    packets: s.packets,
    drops: s.drops,
    overlimits: s.overlimits,
    backlog: s.backlog,
  };
}

function relayRow(s: RelayStat, i: number): DbRow {
  const t: TableName = 'relay_stats';
  check(t, i, isTime(s?.at), '"at" must be epoch milliseconds');
  check(t, i, isName(s.node), '"node" must be a node name');
  check(t, i, Number.isInteger(s.port) && s.port >= 1 && s.port <= 65535, '"port" must be a UDP port');
  for (const k of ['forwardedPackets', 'forwardedBytes', 'droppedPackets', 'droppedNotAllowed', 'nodes', 'sessions'] as const) check(t, i, isCount(s[k]), `"${k}" must be a non-negative integer`);
  return {
    ...timeCols(s.at),
    node: s.node,
    port: s.port,
    forwarded_packets: s.forwardedPackets,
    forwarded_bytes: s.forwardedBytes,
    dropped_packets: s.droppedPackets,
    dropped_not_allowed: s.droppedNotAllowed,
    nodes: s.nodes,
    sessions: s.sessions,
  };
}

function postureRow(p: PostureRecord, i: number): DbRow {
  const t: TableName = 'posture_decisions';
  check(t, i, isTime(p?.at), '"at" must be epoch milliseconds');
  check(t, i, isName(p.node), '"node" must be a node name');
  check(t, i, typeof p.compliant === 'boolean', '"compliant" must be true or false');
  check(t, i, Array.isArray(p.reasons) && p.reasons.every((r) => typeof r === 'string'), '"reasons" must be an array of strings');
  return { ...timeCols(p.at), node: p.node, compliant: p.compliant ? 1 : 0, reasons: [...p.reasons], policy_version: p.policyVersion ?? '' };
}

function nodeEventRow(ev: NodeEventRecord, i: number): DbRow {
  const t: TableName = 'node_events';
  check(t, i, isTime(ev?.at), '"at" must be epoch milliseconds');
  check(t, i, isName(ev.node), '"node" must be a node name');
  check(t, i, (NODE_EVENT_KINDS as readonly string[]).includes(ev.kind), `"kind" must be one of ${NODE_EVENT_KINDS.join(', ')}`);
  return { ...timeCols(ev.at), node: ev.node, kind: ev.kind, details: JSON.stringify(ev.details ?? {}) };
}

function auditRow(a: AuditRecord, i: number): DbRow {
  const t: TableName = 'audit_events';
  check(t, i, isTime(a?.at), '"at" must be epoch milliseconds');
  check(t, i, isName(a.action) && isName(a.actor), '"action" and "actor" must be non-empty strings');
  check(t, i, a.target === undefined || typeof a.target === 'string', '"target" must be a string');
  return { ...timeCols(a.at), action: a.action, actor: a.actor, target: a.target ?? '', details: JSON.stringify(a.details ?? {}) };
}

/**
 * toDbRows validates a whole batch and converts it to stored rows by table; one bad row rejects
 * the batch (nothing is half-accepted). Non-probe rows get (batch_id, row_idx) as dedup key.
 */
export function toDbRows(batch: TelemetryBatch): RowsByTable {
  if (typeof batch !== 'object' || batch === null) throw clickhouseErrors.badRow('probe_samples', 0, 'the batch must be an object');
  const batchId = batch.batchId ?? randomUUID();
  if (typeof batchId !== 'string' || batchId.length === 0 || batchId.length > 128) {
    throw clickhouseErrors.badRow('probe_samples', 0, '"batchId" must be a string of 1..128 characters');
  }
  const keyed = (rows: DbRow[]) => rows.map((r, i) => Object.assign(r, { batch_id: batchId, row_idx: i }));
  const out: RowsByTable = {};
  const list = <T>(v: T[] | undefined, name: string): T[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw clickhouseErrors.badRow('probe_samples', 0, `"${name}" must be an array`);
    return v;
  };
  const probes = list(batch.probes, 'probes').map(probeRow);
  const tunnels = list(batch.tunnels, 'tunnels').map(tunnelRow);
  const shaping = list(batch.shaping, 'shaping').map(shapingRow);
  const relays = list(batch.relays, 'relays').map(relayRow);
  const posture = list(batch.posture, 'posture').map(postureRow);
  const events = list(batch.nodeEvents, 'nodeEvents').map(nodeEventRow);
  const audit = list(batch.audit, 'audit').map(auditRow);
  if (probes.length) out.probe_samples = probes;
  if (tunnels.length) out.tunnel_stats = keyed(tunnels);
  if (shaping.length) out.shaping_stats = keyed(shaping);
  if (relays.length) out.relay_stats = keyed(relays);
  if (posture.length) out.posture_decisions = keyed(posture);
  if (events.length) out.node_events = keyed(events);
  if (audit.length) out.audit_events = keyed(audit);
  return out;
}

export function countRows(rows: RowsByTable): number {
  let n = 0;
  for (const t of TABLES) n += rows[t]?.length ?? 0;
  return n;
}
