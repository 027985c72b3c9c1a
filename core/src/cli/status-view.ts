/**
 * renderAgentStatus is the human form of `trellis status`: the node, then one row per peer.
 */
import type { AgentStatus } from '../agent/types';
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
  out += `addresses   ${addr}\n`;
  out += `key         ${s.node.wgKey}\n`;
  out += `map         ${mapLine}\n`;
  out += `controller  ${ctl}\n`;
  if (s.posture) {
    out += `posture     ${s.posture.compliant ? 'compliant' : `not compliant: ${s.posture.reasons.join('; ')}`}\n`;
  }
  out += '\n';
  if (s.peers.length === 0) return out + 'no peers\n';
  return out + renderPeerTable(s, now);
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
      p.probe ? formatLoss(p.probe.loss) : '-',
      p.probe ? formatMicros(p.probe.jitterUs) : '-',
    ]);
  return renderTable(['PEER', 'ADDRESS', 'ENDPOINT', 'HANDSHAKE', 'RX / TX', 'RTT', 'LOSS', 'JITTER'], rows, indent);
}
