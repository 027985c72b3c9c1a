/**
 * renderPaths is `trellis paths` as text: for each peer the path in use and why it won, who
 * decides the pair, and every candidate with its RTT, loss, jitter and cost; then the relays this
 * node keeps its address at, and its own relay.
 */
import { formatAgo, formatDuration, formatLoss } from '../text/human-format';
import { renderTable } from '../text/text-table';
import type { AgentPathsStatus, AgentStatus } from '../wire';

const ms = (v: number | null) => (v === null ? '-' : v < 10 ? `${v.toFixed(2)} ms` : `${v.toFixed(1)} ms`);

/** renderPaths prints one agent's paths; `peer` keeps only that peer. */
export function renderPaths(status: AgentStatus, now: number, peer?: string): string {
  const p: AgentPathsStatus | undefined = status.paths;
  const out: string[] = [`${status.node.name}: paths to its peers`];
  if (!p) return `${out[0]}\n  this agent does not report paths (it is older than path choice)\n`;
  if (!p.available) out.push(`  path choice is unavailable: ${p.reason ?? 'unknown reason'}; peers use the endpoints of the map`);
  if (p.reflexive.length > 0) out.push(`  reflexive address: ${p.reflexive.join(', ')}${p.nat && !p.nat.advertisesReflexive ? ' (not advertised: behind a hard NAT each is valid only toward whoever saw it)' : ''}`);
  if (p.nat) out.push(`  NAT: ${p.nat.type}: ${p.nat.reason}`);
  const peers = p.peers.filter((x) => peer === undefined || x.peer === peer);
  for (const x of peers) {
    out.push('');
    const since = x.since === null ? '' : ` for ${formatDuration(now - x.since)}`;
    out.push(`${x.peer}: ${x.active === null ? 'no path chosen yet' : `${x.label} (${x.active})${since}`}; ${x.role === 'decides' ? 'this node decides' : `${x.peer} decides`}, ${x.switches} switch${x.switches === 1 ? '' : 'es'}`);
    out.push(`  why: ${x.reason}`);
    const drifted = x.deviceEndpoint !== undefined && x.endpoint !== null && x.deviceEndpoint !== x.endpoint;
    if (drifted) out.push(`  device endpoint: ${x.deviceEndpoint ?? 'none'}, not the chosen ${x.endpoint} (WireGuard roamed; written back if it stays)`);
    if ((x.endpointReasserts ?? 0) > 0) out.push(`  endpoint written back ${x.endpointReasserts}× (the device had roamed onto another path)`);
    if (x.lastSwitch) out.push(`  last switch: ${formatAgo(x.lastSwitch.at, now)}, ${x.lastSwitch.from ?? 'none'} → ${x.lastSwitch.to} (${x.lastSwitch.cause})`);
    const rows = x.candidates.map((c) => [
      c.id === x.active ? '*' : '',
      c.kind === 'relay' ? `relay ${c.relay ?? ''}` : c.learned ? 'direct (learned)' : c.endpointKind && c.endpointKind !== 'local' ? `direct (${c.endpointKind})` : 'direct',
      c.endpoint,
      `${c.live ? 'live' : 'dead'}${c.heldDownMs > 0 ? `, held ${formatDuration(c.heldDownMs)}` : ''}${c.deaths > 0 ? `, died ${c.deaths}×` : ''}`,
      ms(c.rttMs),
      formatLoss(c.loss),
      ms(c.jitterMs),
      c.costMs === null ? '-' : ms(c.costMs),
      c.lastReplyAgoMs === null ? 'never' : formatAgo(now - c.lastReplyAgoMs, now),
    ]);
    out.push(renderTable(['', 'CANDIDATE', 'ENDPOINT', 'STATE', 'RTT', 'LOSS', 'JITTER', 'COST', 'LAST ANSWER'], rows, '  ').trimEnd());
  }
  if (peer !== undefined && peers.length === 0) out.push(`  no peer named ${peer}`);
  if (p.relays.length > 0) {
    out.push('', 'relays:');
    out.push(renderTable(['RELAY', 'ENDPOINT', 'STATE', 'RTT', 'SEES THIS NODE AT'], p.relays.map((r) => [r.relay, r.endpoint, r.live ? 'live' : 'dead', ms(r.rttMs), r.observed ?? '-']), '  ').trimEnd());
  }
  if (status.relay) {
    const r = status.relay;
    out.push('', `this node relays on port ${r.port}: ${r.running ? `running, ${r.nodes} nodes known, ${r.forwardedPackets} packets forwarded` : `not running${r.error ? ` (${r.error})` : ''}`}`);
  }
  return out.join('\n') + '\n';
}
