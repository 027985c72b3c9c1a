/**
 * renderAgentStatus is the human form of `trellis status`: the node, then one row per peer, with
 * the text plugins registered (StatusText) at its place.
 */
import type { PeerProbeStats } from '../api/hooks';
import type { StatusPlace } from '../api/status-text';
import type { AgentStatus } from '../wire';
import type { WgDeviceInfo } from '../wg/types';
import { describeOffloads } from '../wg/tun-offloads';
import { formatAgo, formatBytes, formatDuration, formatLoss, formatMicros } from '../text/human-format';
import { renderTable } from '../text/text-table';

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
  out += renderKeyLines(s, now);
  out += `map         ${mapLine}\n`;
  out += `controller  ${ctl}\n`;
  if (s.relay) out += renderRelayLine(s.relay);
  out += renderNatLine(s);
  out += renderPostureSection(s);
  out += renderRouteLines(s);
  out += renderTopologyLine(s);
  out += '\n';
  out += s.peers.length === 0 ? 'no peers\n' : renderPeerTable(s, now);
  return out + (pluginText(s, 'end') ?? '');
}

/** renderNatLine: this node's NAT as STUN classified it, and whether its reflexive addresses are candidates; empty until classified. */
export function renderNatLine(s: AgentStatus): string {
  const nat = s.paths?.nat;
  if (!nat) return '';
  const what = { open: 'none (the STUN servers see the socket itself)', easy: 'easy (one mapping for every destination)', hard: 'hard (a mapping per destination)', unknown: 'unknown' }[nat.type];
  return `nat         ${what}${nat.type === 'hard' ? '; reflexive addresses not advertised, pairs that cannot punch use a relay' : ''}\n`;
}

/** renderTopologyLine: a hub's or a spoke's place in the topology; empty in a plain mesh. */
export function renderTopologyLine(s: AgentStatus): string {
  const t = s.topology;
  if (!t || t.role === 'mesh') return '';
  if (t.role === 'hub') {
    const subnets = (t.forwards ?? []).map((f) => `${f.prefix} to ${f.via}`).join(', ');
    return `topology    hub: forwards between spokes${subnets ? ` and ${subnets}` : ''}${t.forwarding ? '' : ' (forwarding not on yet)'}\n`;
  }
  const line = `topology    spoke: direct with the peers below; every other node (${t.transit.join(', ')}) via hub ${t.via}\n`;
  if (!t.onDemand) return line;
  const od = t.onDemand;
  return `${line}on demand   ${od.open} open, ${od.staged} staged of ${od.candidates} remote spokes (end to end through the hub relay while they talk)\n`;
}

/** renderRouteLines: subnets installed through peers, and what this node advertises as a gateway; empty when neither. */
export function renderRouteLines(s: AgentStatus): string {
  const r = s.routes;
  if (!r) return '';
  let out = '';
  if (r.installed.length > 0) out += `routes      ${r.installed.map((x) => `${x.prefix} via ${x.via}${x.gateway ? ` (hub) to gateway ${x.gateway}` : ''}`).join(', ')}\n`;
  if (r.include && r.include.length > 0) out += `accepts     only subnets inside ${r.include.join(', ')} (--route-include)\n`;
  if (r.advertised.length > 0 || r.lastError) {
    const items = r.advertised.map((a) => {
      const check = a.check === null ? '' : `, check ${a.check} ${a.checkOk === null ? 'pending' : a.checkOk ? 'ok' : 'failing'}`;
      return `${a.prefix} (${a.kind === 'exit' ? 'exit, ' : ''}${a.status}${check})`;
    });
    out += `advertises  ${items.join(', ') || '-'}${r.forwarding ? '; forwarding' : ''}\n`;
    if (r.lastError) out += `            refused: ${r.lastError}\n`;
  }
  if (r.exit) {
    const e = r.exit;
    out += `exit node   ${e.inUse ?? 'none in use'} (wanted ${e.preferred}${e.fallback ? `, fallback ${e.fallback}` : ''}${e.exclude.length ? `; outside: ${e.exclude.join(', ')}` : ''}${e.switches ? `; switched ${e.switches} time${e.switches === 1 ? '' : 's'}` : ''})\n`;
    if (e.problem) out += `            ${e.problem}\n`;
  }
  return out;
}

/**
 * describeDeviceBuild is the one-line name of a device's build: "wireguard-go v0.0.20250522 (commit
 * ecfc5a8d5446)", or "trellis-wg v0.1.0 (wireguard-go commit ecfc5a8d5446)" for the wireguard-go
 * commit trellis-wg links.
 */
export function describeDeviceBuild(d: WgDeviceInfo): string {
  const commit = d.commit ? ` (${d.driver === 'wireguard-go' ? '' : 'wireguard-go '}commit ${d.commit})` : '';
  return `${d.driver} ${d.version ?? '(version unknown)'}${commit}`;
}

/** describeDisco is the short form of whether the device carries STUN and disco for the agent. */
export function describeDisco(d: WgDeviceInfo): string | null {
  if (!d.disco) return null;
  return d.disco.available ? `available (${d.disco.socket})` : `unavailable: ${d.disco.reason}`;
}

/**
 * renderDeviceLines shows which build serves the interface, its pid and the TUN offloads in force,
 * why it is not trellis-wg (or the current bundled build) when the agent fell back, and whether
 * the agent can exchange STUN and disco datagrams on its WireGuard socket.
 */
export function renderDeviceLines(d: WgDeviceInfo): string {
  const where = [d.binary ?? 'binary not found', d.pid !== null ? `pid ${d.pid}` : null].filter((x) => x !== null).join(', ');
  let out = `device      ${describeDeviceBuild(d)}, ${where}\n`;
  out += `offloads    ${describeOffloads(d.offloads)}\n`;
  if (d.fallback) out += `            fallback: ${d.fallback}\n`;
  const disco = describeDisco(d);
  if (disco) out += `disco       ${disco}\n`;
  return out;
}

/** renderRelayLine is the node's relay forwarder: its port, what it serves, forwarded and dropped. */
export function renderRelayLine(r: NonNullable<AgentStatus['relay']>): string {
  if (!r.running) return `relay       port ${r.port}, not running${r.error ? `: ${r.error}` : ''}\n`;
  const dropped = Object.values(r.drops).reduce((a, b) => a + b, 0);
  const why = Object.entries(r.drops)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  let out = `relay       port ${r.port}, ${r.pairs} pairs, ${r.nodes} nodes, ${r.sessions} sessions; forwarded ${r.forwardedPackets} packets (${formatBytes(r.forwardedBytes)}), dropped ${dropped}${why ? ` (${why})` : ''}\n`;
  if (r.error) out += `            ${r.error}\n`;
  return out;
}

/**
 * renderKeyLines is the WireGuard key with its age and next rotation, and the identity credential
 * with its expiry and renewal, as far as the agent knows them.
 */
export function renderKeyLines(s: AgentStatus, now: number): string {
  const k = s.keys;
  if (!k) return `key         ${s.node.wgKey}\n`;
  const facts: string[] = [];
  if (k.wgKeyCreatedAt !== null) facts.push(`age ${formatDuration(now - k.wgKeyCreatedAt)}`);
  if (k.rotating) facts.push('rotating now');
  else if (k.rotateRequested) facts.push('rotation requested');
  else if (k.nextRotationAt !== null) facts.push(k.nextRotationAt <= now ? 'rotation due now' : `next rotation in ${formatDuration(k.nextRotationAt - now)}`);
  if (k.rotationIntervalMs !== null) facts.push(`every ${formatDuration(k.rotationIntervalMs)}`);
  let out = `key         ${s.node.wgKey}${facts.length ? ` (${facts.join(', ')})` : ''}\n`;
  const last = k.lastRotation;
  if (last?.outcome === 'failed') out += `            last rotation failed ${formatAgo(last.at, now)}: ${last.error ?? 'unknown error'}\n`;
  if (k.identityExpiresAt !== null) {
    const renew = k.nextRenewalAt === null ? '' : k.nextRenewalAt <= now ? ', renewing now' : `, renews in ${formatDuration(k.nextRenewalAt - now)}`;
    out += `identity    expires in ${formatDuration(k.identityExpiresAt - now)}${renew}\n`;
    if (k.lastRenewal?.outcome === 'failed') out += `            last renewal failed ${formatAgo(k.lastRenewal.at, now)}: ${k.lastRenewal.error ?? 'unknown error'}\n`;
  }
  return out;
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
  // The PATH column (direct, or the relay's name) comes from agents with path choice.
  const withPath = s.peers.some((p) => p.path !== undefined);
  const rows = [...s.peers]
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))
    .map((p) => [
      p.hub ? `${p.name} (hub)` : p.name,
      p.addresses.ipv4,
      ...(withPath ? [p.path ?? '-'] : []),
      p.endpoint ?? '-',
      formatAgo(p.lastHandshake, now),
      `${formatBytes(p.rxBytes)} / ${formatBytes(p.txBytes)}`,
      formatMicros(p.probe?.rttUs ?? null),
      formatPeerLoss(p.probe),
      p.probe ? formatMicros(p.probe.jitterUs) : '-',
    ]);
  return renderTable(['PEER', 'ADDRESS', ...(withPath ? ['PATH'] : []), 'ENDPOINT', 'HANDSHAKE', 'RX / TX', 'RTT', 'LOSS', 'JITTER'], rows, indent);
}

/** pluginText is what the plugins registered for one place of `trellis status`, in their order. */
function pluginText(s: AgentStatus, place: StatusPlace): string | null {
  const texts = (s.statusText ?? []).filter((t) => t.place === place);
  return texts.length > 0 ? texts.map((t) => t.text).join('') : null;
}

/**
 * renderPostureSection shows the agent's last posture decision and the reasons it failed, when no
 * plugin shows posture in its own detail (StatusText place 'posture'); empty before a decision.
 */
export function renderPostureSection(s: AgentStatus): string {
  const own = pluginText(s, 'posture');
  if (own !== null) return own;
  if (!s.posture) return '';
  const pad = '            ';
  const policy = s.posture.policyVersion ? ` (policy ${s.posture.policyVersion.slice(0, 12)})` : '';
  if (s.posture.compliant) return `posture     compliant${policy}\n`;
  return `posture     NOT COMPLIANT${policy}\n` + s.posture.reasons.map((reason) => `${pad}✗ ${reason}\n`).join('');
}
