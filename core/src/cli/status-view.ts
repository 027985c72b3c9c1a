/**
 * renderAgentStatus is the human form of `trellis status`: the node, then one row per peer.
 */
import type { PeerProbeStats } from '../api/hooks';
import type { AgentStatus } from '../wire';
import type { WgDeviceInfo } from '../wg/types';
import { describeOffloads } from '../wg/tun-offloads';
import { formatAgo, formatBytes, formatLoss, formatMicros } from './human-format';
import { renderTable } from './text-table';

export function renderAgentStatus(s: AgentStatus, now: number): string {
  const addr = s.node.addresses ? `${s.node.addresses.ipv4}, ${s.node.addresses.ipv6}` : '(not enrolled)';
  const mapLine =
    s.map.source === 'none'
      ? 'none yet'
      : `v${s.map.version} from ${s.map.source}${s.map.appliedAt !== null ? `, applied ${formatAgo(s.map.appliedAt, now)}` : ''}`;
  const ctl = s.controller.connected
    ? `${s.controller.url} (connected)`
    : `${s.controller.url} (not connected${s.controller.lastError ? `: ${s.controller.lastError}` : ''})`;
  let out = '';
  out += `node        ${s.node.name}${s.node.id ? ` (${s.node.id})` : ''}\n`;
  out += `interface   ${s.node.iface}, port ${s.node.listenPort}\n`;
  if (s.device) out += renderDeviceLines(s.device);
  out += `addresses   ${addr}\n`;
  out += `key         ${s.node.wgKey}\n`;
  out += `map         ${mapLine}\n`;
  out += `controller  ${ctl}\n`;
  out += renderPostureSection(s);
  out += '\n';
  if (s.peers.length === 0) return out + 'no peers\n' + renderShapingSection(s);
  return out + renderPeerTable(s, now) + renderShapingSection(s);
}

/** describeDeviceBuild is the one-line name of a device's build: "wireguard-go v0.0.20250522 (commit ecfc5a8d5446)". */
export function describeDeviceBuild(d: WgDeviceInfo): string {
  return `${d.driver} ${d.version ?? '(version unknown)'}${d.commit ? ` (commit ${d.commit})` : ''}`;
}

/**
 * renderDeviceLines shows which build serves the interface, its pid and the TUN offloads in force,
 * and why it is not the current bundled build when the agent fell back.
 */
export function renderDeviceLines(d: WgDeviceInfo): string {
  const where = [d.binary ?? 'binary not found', d.pid !== null ? `pid ${d.pid}` : null].filter((x) => x !== null).join(', ');
  let out = `device      ${describeDeviceBuild(d)}, ${where}\n`;
  out += `offloads    ${describeOffloads(d.offloads)}\n`;
  if (d.fallback) out += `            fallback: ${d.fallback}\n`;
  return out;
}

/** The fields of one shaping-tc class the view reads; the plugin's status may carry more. */
interface ShapingClassView {
  direction: string;
  label: string;
  rateKbit: number;
  ceilKbit: number;
  prio: number | null;
  bytes: number;
  packets: number;
  drops: number;
  overlimits: number;
  backlogBytes: number;
  backlogPackets: number;
}

interface ShapingView {
  profile: string;
  iface: string;
  ifb: string | null;
  classes: ShapingClassView[];
}

function isShapingView(v: unknown): v is ShapingView {
  const o = v as Partial<ShapingView> | null;
  return !!o && typeof o === 'object' && typeof o.profile === 'string' && Array.isArray(o.classes);
}

const formatKbit = (k: number) => (k >= 1000 ? `${Math.round(k / 100) / 10}Mbit` : `${k}kbit`);

/**
 * renderShapingSection shows the shaping-tc classes in force and what each carries (from
 * `extensions['shaping-tc']`); empty when the node is not shaped.
 */
export function renderShapingSection(s: AgentStatus, indent = ''): string {
  const sh = s.extensions['shaping-tc'];
  if (!isShapingView(sh)) return '';
  const rows = sh.classes.map((c) => [
    c.direction,
    c.label,
    formatKbit(c.rateKbit),
    formatKbit(c.ceilKbit),
    c.prio === null ? '-' : String(c.prio),
    formatBytes(c.bytes),
    String(c.packets),
    String(c.drops),
    String(c.overlimits),
    `${formatBytes(c.backlogBytes)} / ${c.backlogPackets}p`,
  ]);
  const head = `\n${indent}shaping     profile ${sh.profile} on ${sh.iface}${sh.ifb ? `, ingress via ${sh.ifb}` : ''}\n`;
  return head + renderTable(['DIR', 'CLASS', 'RATE', 'CEIL', 'PRIO', 'SENT', 'PKTS', 'DROPS', 'OVERLIMITS', 'BACKLOG'], rows, indent);
}

/**
 * formatPeerLoss is the LOSS cell: "no reply" while the peer has never answered a probe (no
 * tunnel to measure yet, which is not 0 %), "-" until a counted probe has settled, else the
 * loss over probes sent since the first reply.
 */
export function formatPeerLoss(probe: PeerProbeStats | null): string {
  if (!probe) return '-';
  if (!probe.replied) return 'no reply';
  return formatLoss(probe.loss);
}

/** renderPeerTable is the peer rows alone, also used by `trellis lab demo`. */
export function renderPeerTable(s: AgentStatus, now: number, indent = ''): string {
  const rows = [...s.peers]
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))
    .map((p) => [
      p.name,
      p.addresses.ipv4,
      p.endpoint ?? '-',
      formatAgo(p.lastHandshake, now),
      `${formatBytes(p.rxBytes)} / ${formatBytes(p.txBytes)}`,
      formatMicros(p.probe?.rttUs ?? null),
      formatPeerLoss(p.probe),
      p.probe ? formatMicros(p.probe.jitterUs) : '-',
    ]);
  return renderTable(['PEER', 'ADDRESS', 'ENDPOINT', 'HANDSHAKE', 'RX / TX', 'RTT', 'LOSS', 'JITTER'], rows, indent);
}

/** The fields of posture-opa's status section the view reads (plugins/posture-opa agent-side.ts). */
interface PostureView {
  policyVersion: string | null;
  wantedVersion: string | null;
  fetchError: string | null;
  failedChecks: Array<{ check: string; reason: string }>;
  quarantinedByController: boolean | null;
  controllerReasons: string[];
}

function isPostureView(v: unknown): v is PostureView {
  const o = v as Partial<PostureView> | null;
  return !!o && typeof o === 'object' && Array.isArray(o.failedChecks);
}

/**
 * renderPostureSection shows the agent's last posture decision, each failed check with its
 * reason, the policy version that decided, and whether the controller quarantined the node.
 */
export function renderPostureSection(s: AgentStatus): string {
  const view = s.extensions['posture-opa'];
  const pv = isPostureView(view) ? view : null;
  if (!s.posture && !pv) return '';
  const pad = '            ';
  let out = '';
  const version = s.posture?.policyVersion ?? pv?.policyVersion ?? null;
  const policy = version ? ` (policy ${version.slice(0, 12)})` : '';
  if (!s.posture) out += `posture     not evaluated yet${policy}\n`;
  else if (s.posture.compliant) out += `posture     compliant${policy}\n`;
  else {
    out += `posture     NOT COMPLIANT${policy}\n`;
    const failed = pv && pv.failedChecks.length > 0 ? pv.failedChecks : s.posture.reasons.map((reason) => ({ check: '', reason }));
    for (const f of failed) out += `${pad}✗ ${f.check ? `${f.check}: ` : ''}${f.reason}\n`;
  }
  if (pv?.quarantinedByController === true) {
    const why = pv.controllerReasons.length > 0 ? `: ${pv.controllerReasons.join('; ')}` : '';
    out += `${pad}QUARANTINED by the controller${why}; peers do not reach this node until it is compliant\n`;
  } else if (pv?.quarantinedByController === null && pv.wantedVersion !== null && s.posture && !s.posture.compliant) {
    // The controller decides with the same policy version it serves us, so it quarantines us too.
    out += `${pad}quarantined: the controller's policy drops non-compliant nodes from every peer's map until this is fixed\n`;
  }
  if (pv?.fetchError) {
    out += `${pad}policy ${pv.wantedVersion?.slice(0, 12) ?? '?'} could not be fetched (${pv.fetchError}); using ${pv.policyVersion?.slice(0, 12) ?? 'none'}\n`;
  }
  return out;
}
