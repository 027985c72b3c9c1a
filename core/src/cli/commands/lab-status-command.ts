import { ROUTES, type AgentStatus } from '../../wire';
import { Lab } from '../../lab/lab';
import { isAlive } from '../../lab/process-group';
import { labDir } from '../../lab/lab-state';
import type { CliIO } from '../cli-io';
import { printJson, type Command } from '../command';
import { formatMicros } from '../../text/human-format';
import { parseCommandArgs } from '../parse-command-args';
import { describeDeviceBuild } from '../status-view';
import { renderTable } from '../../text/text-table';
import { describeOffloads } from '../../wg/tun-offloads';
import { describeImpairment, impairedPair } from './lab-impair-command';

const NAME = 'lab status';

export interface LabNodeSummary {
  name: string;
  pid: number | null;
  running: boolean;
  status: AgentStatus | null;
  error: string | null;
}

export interface LabStatusView {
  controller: { url: string; pid: number | null; running: boolean; healthy: boolean };
  /** The lab's Prometheus (`lab up --prometheus`): ready, and how many scrape targets are up. */
  prometheus?: { url: string; pid: number | null; running: boolean; ready: boolean; targetsUp: number; targets: number } | null;
  nodes: LabNodeSummary[];
  /** The lab's underlay: addresses, NATs (configured and measured), relays, uplinks, impairments. */
  network?: LabNetworkView;
}

export interface LabNetworkView {
  stun: string[];
  nodes: Array<{ name: string; underlays: string[]; privateAddress: string | null; natConfigured: string | null; natMeasured: string | null; natReason: string | null; relay: boolean }>;
  impairments: Array<{ a: string; b: string; delayMs: number; jitterMs: number; lossPct: number; oneWay?: boolean }>;
}

/** `trellis lab status`: the controller and a one-line summary of each node. */
export const labStatusCommand: Command = {
  name: NAME,
  summary: "show the lab's controller and nodes",
  help: `Usage: trellis lab status [--json]

Shows whether the lab's controller answers, its Prometheus (after \`lab up --prometheus\`) and how
many targets it scrapes, and per node: process, overlay address, map, peers with a handshake, mean
probe RTT and the controller connection; then the underlay: the controller's STUN addresses, each
node's underlay addresses (and its own address behind a NAT), the NAT it was given (\`lab up --nat\`)
and the type STUN measured from inside its namespace (open, easy, hard), relays, and impaired
pairs (\`lab impair\`); then which wireguard-go build (version, commit, binary) and TUN offloads
each node's device runs with.

Flags:
  --json      print the controller and every node's AgentStatus as JSON
  -h, --help  show this help
`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs(NAME, {
      args: argv,
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    const lab = Lab.load(labDir(io.env));
    const view = await collectLabStatus(lab);
    if (values.json) printJson(io, view);
    else io.stdout(renderLabStatus(view));
    return 0;
  },
};

export async function collectLabStatus(lab: Lab): Promise<LabStatusView> {
  const c = lab.describe().controller;
  const healthy = await lab
    .controllerFetch(ROUTES.health, { signal: AbortSignal.timeout(2000) })
    .then((r) => r.ok)
    .catch(() => false);
  const nodes = await Promise.all(
    lab.nodeNames.map(async (name): Promise<LabNodeSummary> => {
      const pid = lab.node(name).pid;
      try {
        return { name, pid, running: isAlive(pid), status: await lab.status(name), error: null };
      } catch (err) {
        return { name, pid, running: isAlive(pid), status: null, error: (err as Error).message };
      }
    }),
  );
  const d = lab.describe();
  const network: LabNetworkView = {
    stun: d.stun,
    nodes: d.nodes.map((n) => ({
      name: n.name,
      underlays: n.underlays,
      privateAddress: n.privateAddress,
      natConfigured: n.nat.configured,
      natMeasured: n.nat.measured,
      natReason: n.nat.reason,
      relay: n.relay,
    })),
    impairments: d.impairments,
  };
  return { controller: { url: c.url, pid: c.pid, running: isAlive(c.pid), healthy }, prometheus: await prometheusStatus(lab), nodes, network };
}

/**
 * renderLabNetwork is the underlay per node: its addresses (the node's own behind a NAT), the NAT
 * it was given and the one STUN measured, whether it relays; then the impaired pairs.
 */
export function renderLabNetwork(n: LabNetworkView | undefined): string {
  if (!n) return '';
  const rows = n.nodes.map((x) => [
    x.name,
    x.underlays.join(' ') + (x.privateAddress ? ` (node ${x.privateAddress})` : ''),
    x.natConfigured ?? 'none',
    x.natMeasured ?? '-',
    x.relay ? 'yes' : '-',
  ]);
  const stun = n.stun.length > 0 ? `stun        udp ${n.stun.join(', ')}\n` : '';
  const imp = n.impairments.map((i) => `impaired    ${impairedPair(i)}: ${describeImpairment(i)}\n`).join('');
  return `\n${stun}` + renderTable(['NODE', 'UNDERLAY', 'NAT CONFIGURED', 'NAT MEASURED', 'RELAY'], rows) + imp;
}

/** prometheusStatus asks the lab's Prometheus whether it is ready and how many targets it scrapes. */
async function prometheusStatus(lab: Lab): Promise<LabStatusView['prometheus']> {
  const p = lab.describe().prometheus;
  if (!p) return null;
  const ready = await fetch(`${p.url}/-/ready`, { signal: AbortSignal.timeout(2000) })
    .then((r) => r.ok)
    .catch(() => false);
  const targets = ready
    ? await fetch(`${p.url}/api/v1/targets?state=active`, { signal: AbortSignal.timeout(2000) })
        .then(async (r) => ((await r.json()) as { data: { activeTargets: Array<{ health: string }> } }).data.activeTargets)
        .catch(() => [])
    : [];
  return { url: p.url, pid: p.pid, running: isAlive(p.pid), ready, targetsUp: targets.filter((t) => t.health === 'up').length, targets: targets.length };
}

export function renderLabStatus(v: LabStatusView): string {
  const c = v.controller;
  const p = v.prometheus;
  const prom = p
    ? `prometheus  ${p.url}  ${p.ready ? `ready, ${p.targetsUp}/${p.targets} targets up` : p.running ? 'running, not ready' : 'stopped'}${p.pid !== null ? ` (pid ${p.pid})` : ''}\n`
    : '';
  const ctl = `controller  ${c.url}  ${c.healthy ? 'healthy' : c.running ? 'running, not answering' : 'stopped'}${c.pid !== null ? ` (pid ${c.pid})` : ''}\n${prom}\n`;
  const rows = v.nodes.map((n) => {
    const s = n.status;
    if (!s) return [n.name, n.running ? `up (${n.pid})` : 'stopped', '-', '-', '-', '-', n.error ?? '-'];
    const up = s.peers.filter((p) => p.lastHandshake !== null).length;
    const rtts = s.peers.map((p) => p.probe?.rttUs).filter((r): r is number => typeof r === 'number');
    const mean = rtts.length ? rtts.reduce((a, b) => a + b, 0) / rtts.length : null;
    return [
      n.name,
      `up (${n.pid})`,
      s.node.addresses?.ipv4 ?? '-',
      s.map.source === 'none' ? 'none' : `v${s.map.version} ${s.map.source}`,
      `${up}/${s.peers.length}`,
      formatMicros(mean),
      s.controller.connected ? 'connected' : `disconnected${s.controller.lastError ? `: ${s.controller.lastError}` : ''}`,
    ];
  });
  return ctl + renderTable(['NODE', 'AGENT', 'OVERLAY', 'MAP', 'TUNNELS', 'MEAN RTT', 'CONTROLLER'], rows) + renderLabNetwork(v.network) + renderLabDevices(v);
}

/**
 * renderLabDevices groups the nodes by the device build they run, one line per build, so a lab
 * where some node fell back to an old wireguard-go shows it at a glance; empty when no agent says.
 */
export function renderLabDevices(v: LabStatusView): string {
  const groups = new Map<string, string[]>();
  for (const n of v.nodes) {
    const d = n.status?.device;
    if (!d) continue;
    const disco = d.disco ? `, ${d.disco.available ? 'disco' : 'no disco'}` : '';
    const key = `${describeDeviceBuild(d)}, offloads ${describeOffloads(d.offloads)}${disco}, ${d.binary ?? 'binary not found'}${d.fallback ? ` (fallback: ${d.fallback})` : ''}`;
    groups.set(key, [...(groups.get(key) ?? []), n.name]);
  }
  if (groups.size === 0) return '';
  return '\n' + [...groups].map(([build, names]) => `devices     ${names.join(', ')}: ${build}\n`).join('');
}
