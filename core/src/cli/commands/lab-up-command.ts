import { Lab, type LabProgress } from '../../lab/lab';
import { handOverLabLock } from '../../lab/lab-lock';
import { labDir } from '../../lab/lab-state';
import type { CliIO } from '../cli-io';
import { printJson, type Command } from '../command';
import { parseDurationInRange, parseInteger } from '../flag-values';
import { parseCommandArgs } from '../parse-command-args';
import { UsageError } from '../usage-error';
import { renderTable } from '../../text/text-table';
import { parseSiteSpec, type LabSiteSpec } from '../../lab/lab-site';
import type { TopologyConfig } from '../../api/routes';
import { parseTopology } from '../../controller/topology';
import { topologyFromFlags } from './topology-commands';

const NAME = 'lab up';

export const LAB_UP_OPTIONS = {
  nodes: { type: 'string', short: 'n' },
  config: { type: 'string' },
  'probe-interval': { type: 'string' },
  clickhouse: { type: 'string' },
  'clickhouse-database': { type: 'string' },
  prometheus: { type: 'boolean' },
  'prometheus-listen': { type: 'string' },
  site: { type: 'string', multiple: true },
  internet: { type: 'boolean' },
  insecure: { type: 'boolean' },
} as const;

/** labUpOptions validates the flags lab up and lab demo share. */
export function labUpOptions(
  values: { nodes?: string; config?: string; 'probe-interval'?: string; clickhouse?: string; 'clickhouse-database'?: string; prometheus?: boolean; 'prometheus-listen'?: string; site?: string[]; internet?: boolean; insecure?: boolean },
  command: string,
  defaultNodes: number,
): { nodes: number; configFile?: string; probeIntervalMs?: number; clickhouseUrl?: string; clickhouseDatabase?: string; prometheus?: { listen?: string }; sites?: LabSiteSpec[]; internet?: boolean; insecure?: boolean } {
  let sites: LabSiteSpec[] | undefined;
  try {
    sites = values.site?.map(parseSiteSpec);
  } catch (err) {
    throw new UsageError((err as Error).message, command);
  }
  if (values.clickhouse !== undefined && !/^https?:\/\/[^\s]+$/.test(values.clickhouse)) {
    throw new UsageError(`--clickhouse must be the ClickHouse HTTP URL, e.g. http://127.0.0.1:8123 (got "${values.clickhouse}")`, command);
  }
  if (values['clickhouse-database'] !== undefined && !/^[a-z_][a-z0-9_]*$/.test(values['clickhouse-database'])) {
    throw new UsageError(`--clickhouse-database must match ^[a-z_][a-z0-9_]*$ (got "${values['clickhouse-database']}")`, command);
  }
  if (values['clickhouse-database'] !== undefined && values.clickhouse === undefined) {
    throw new UsageError('--clickhouse-database needs --clickhouse <url>', command);
  }
  const listen = values['prometheus-listen'];
  if (listen !== undefined && !/^(\[[0-9A-Fa-f:.]+\]|[^:[\]\s]+):\d{1,5}$/.test(listen)) {
    throw new UsageError(`--prometheus-listen must be host:port, e.g. 127.0.0.1:9090 (got "${listen}")`, command);
  }
  if (listen !== undefined && !values.prometheus) throw new UsageError('--prometheus-listen needs --prometheus', command);
  return {
    ...(values.prometheus ? { prometheus: listen !== undefined ? { listen } : {} } : {}),
    ...(values.insecure ? { insecure: true } : {}),
    ...(values.clickhouse !== undefined ? { clickhouseUrl: values.clickhouse } : {}),
    ...(values['clickhouse-database'] !== undefined ? { clickhouseDatabase: values['clickhouse-database'] } : {}),
    ...(sites ? { sites } : {}),
    ...(values.internet ? { internet: true } : {}),
    nodes: values.nodes !== undefined ? parseInteger('--nodes', values.nodes, command, 1, 50) : defaultNodes,
    configFile: values.config,
    probeIntervalMs:
      values['probe-interval'] !== undefined
        ? parseDurationInRange('--probe-interval', values['probe-interval'], command, 10, 3_600_000)
        : undefined,
  };
}

/** progressLine is the human line for one lab start-up step, or null for steps not worth a line. */
export function progressLine(e: LabProgress): string | null {
  switch (e.kind) {
    case 'cleared':
      return 'lab: cleared leftovers of any previous lab';
    case 'network':
      return 'lab: bridge trlbr0 up (198.18.0.1/24)';
    case 'controller':
      return `lab: controller listening on ${e.url}`;
    case 'prometheus':
      return `lab: prometheus on ${e.url}, scraping the controller and every agent${e.rulesFile ? `, rules ${e.rulesFile}` : ''}`;
    case 'node-started':
      return `lab: ${e.name} started`;
    case 'nat-measured':
      return e.configured === null && e.measured === 'open' ? null : `lab: ${e.name} NAT ${e.configured ?? 'none'} configured, measured ${e.measured} (${e.reason})`;
    case 'node-ready':
      return `lab: ${e.name} has its map (${e.status.node.addresses?.ipv4 ?? '?'}, ${e.status.peers.length} peers)`;
  }
}

/**
 * parseAssignments reads `n1=easy,n2=hard` (repeatable flags are joined) into name → value,
 * refusing an entry without "=" and a name given twice.
 */
export function parseAssignments(flag: string, values: readonly string[], command: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '')) {
    const m = /^([^=\s]+)=([^=\s]+)$/.exec(item);
    if (!m) throw new UsageError(`${flag} "${item}" is not <node>=<value>, e.g. ${flag === '--nat' ? 'n1=easy' : 'n1=2'}`, command);
    if (m[1]! in out) throw new UsageError(`${flag} gives ${m[1]} twice`, command);
    out[m[1]!] = m[2]!;
  }
  return out;
}

/** labMeshTopology reads --topology, --hubs, --direct and --hub-forwarding; a bare node name stands for node:<name>. */
export function labMeshTopology(values: { topology?: string; hubs?: string; direct?: string; 'hub-forwarding'?: string }, command: string): { topology?: TopologyConfig } {
  if (values.topology === undefined) {
    if (values.hubs !== undefined || values.direct !== undefined || values['hub-forwarding'] !== undefined) throw new UsageError('--hubs, --direct and --hub-forwarding need --topology <mode>', command);
    return {};
  }
  const asSelector = (s: string) => (s === '*' || s.includes(':') ? s : `node:${s}`);
  const t = topologyFromFlags({ mode: values.topology, hubs: values.hubs, direct: values.direct, 'hub-forwarding': values['hub-forwarding'] }, command);
  const topology: TopologyConfig = {
    mode: t.mode,
    ...(t.hubs ? { hubs: t.hubs.map(asSelector) } : {}),
    ...(t.direct ? { direct: t.direct.map((d) => (typeof d === 'string' ? asSelector(d) : ([asSelector(d[0]), asSelector(d[1])] as const))) } : {}),
    ...(t.hubForwarding ? { hubForwarding: t.hubForwarding } : {}),
  };
  try {
    return { topology: parseTopology(topology, '--topology') };
  } catch (err) {
    throw new UsageError((err as Error).message, command);
  }
}

/** labTopologyFlags reads --nat, --relays and --uplinks; lab.up checks the names against the nodes. */
export function labTopologyFlags(values: { nat?: string[]; relays?: string[]; uplinks?: string[] }, command: string): { nat?: Record<string, string>; relays?: string[]; uplinks?: Record<string, number> } {
  const out: { nat?: Record<string, string>; relays?: string[]; uplinks?: Record<string, number> } = {};
  if (values.nat) {
    out.nat = parseAssignments('--nat', values.nat, command);
    for (const [n, t] of Object.entries(out.nat)) if (t !== 'easy' && t !== 'hard') throw new UsageError(`--nat ${n}=${t}: the NAT type is easy or hard`, command);
  }
  if (values.relays) out.relays = values.relays.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  if (values.uplinks) {
    const raw = parseAssignments('--uplinks', values.uplinks, command);
    for (const [n, v] of Object.entries(raw)) if (!/^[1-4]$/.test(v)) throw new UsageError(`--uplinks ${n}=${v}: give 1 to 4 links`, command);
    out.uplinks = Object.fromEntries(Object.entries(raw).map(([n, v]) => [n, Number(v)]));
  }
  return out;
}

/** `trellis lab up`: a controller and N nodes in namespaces on this machine. */
export const labUpCommand: Command = {
  name: NAME,
  summary: 'start a local lab: a controller and N nodes in network namespaces',
  help: `Usage: trellis lab up [--nodes N] [--nat n1=easy,n2=hard] [--relays n3] [--uplinks n4=2] [--config <file>]
                     [--probe-interval 1s] [--clickhouse <url>] [--prometheus] [--site n2=10.20.0.0/24] [--json]

Clears whatever a previous lab left, then starts a bridge (trlbr0, 198.18.0.1/24), a controller
(with its STUN service on udp 198.18.0.1:3478 and 198.18.0.2:3478) and N nodes (namespaces
trl-n1..trl-nN, node k at 198.18.0.<10+k>), measures each node's NAT with STUN, and waits until
every node has its map with N−1 peers.
The processes keep running after this command returns; stop them with \`trellis lab down\`.
State: $TRELLIS_LAB_DIR (default /run/trellis-lab). Needs root.

Flags:
  -n, --nodes <N>          number of nodes, 1..50 (default 3)
  --nat <node>=easy|hard   put the node behind its own router (namespace trl-<node>.router, public
                           198.18.0.<10+k> on the bridge, the node at 10.<k>.0.2 on its LAN) with
                           iptables MASQUERADE: easy keeps the mapping whatever the destination
                           (port kept), hard maps per destination (--random-fully); comma-separate
                           or repeat
  --relays <node>[,<node>] start these nodes with \`trellis up --relay\`
  --uplinks <node>=<n>     give the node n underlay links (2..4): eth1 on trlbr1 (198.19.0.<10+k>),
                           eth2 on trlbr2 (198.19.1.<10+k>)…; the host routes between the bridges
  --config <file>          plugin config passed to the controller and every agent
  --probe-interval <dur>   agents' probe interval (default 1s)
  --clickhouse <url>       load the plugins deploy/lab/services.yaml names for clickhouse, pointed at
                           this HTTP URL (merged with --config; build them first)
  --clickhouse-database <db>  its database (default trellis)
  --prometheus             run Prometheus (Debian's prometheus) scraping the controller and every
                           agent (the plugins deploy/lab/services.yaml names for prometheus, on both,
                           merged with --config; agents serve 0.0.0.0:9464 in their namespaces) with
                           dashboards/prometheus/trellis-rules.yml
  --prometheus-listen <host:port>  its web UI and API (default 127.0.0.1:9090)
  --site <nodes>=<cidr>    a LAN behind gateway nodes, e.g. n2=10.20.0.0/24 or n2,n3=10.20.0.0/24 (HA):
                           namespace trl-site<i> with a host at .10; each gateway gets lan0 at .<100+k>
                           and advertises the LAN (--route-check .10, priority by its place); repeatable
  --internet               an "internet" namespace trl-inet (198.18.0.3) as the nodes' default gateway,
                           with servers 203.0.113.10 and 198.51.100.10 (ping; HTTP on port 80 answers
                           with the caller's address)
  --insecure               plain http instead of TLS (by default the lab runs \`controller init\` and
                           every agent pins the lab's CA)
  --topology <mode>        the controller's topology: full (default), hub-and-spoke, partial or hybrid
  --hubs <nodes>           its hubs, e.g. n1,n2 (node names, or selectors such as tag:hub)
  --direct <selectors>     nodes with direct tunnels (partial, hybrid): tag:dc, or n3<->n4 to link two nodes
                           or sites; the lab is ready when each node holds the peers its topology gives it
  --hub-forwarding <f>     hop-by-hop (default) or end-to-end: hubs run with --relay and spokes add each
                           other on demand through the hub's relay (the hub never sees their plaintext)
  --json                   print the controller and nodes as JSON
  -h, --help               show this help
`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs(NAME, {
      args: argv,
      options: {
        ...LAB_UP_OPTIONS,
        nat: { type: 'string', multiple: true },
        relays: { type: 'string', multiple: true },
        uplinks: { type: 'string', multiple: true },
        topology: { type: 'string' },
        hubs: { type: 'string' },
        direct: { type: 'string' },
        'hub-forwarding': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    const opts = { ...labUpOptions(values, NAME, 3), ...labTopologyFlags(values, NAME), ...labMeshTopology(values, NAME) };
    const lab = await Lab.up({
      ...opts,
      dir: labDir(io.env),
      onProgress: (e) => {
        const line = progressLine(e);
        if (line !== null && !values.json) io.stderr(line + '\n');
      },
    }).catch((err: unknown) => {
      io.stderr('lab: what started is left running for inspection; `trellis lab down` removes it\n');
      throw err;
    });
    // The lab outlives this command: its controller holds the one-lab lock until `lab down`.
    const controllerPid = lab.describe().controller.pid;
    if (controllerPid !== null) handOverLabLock(controllerPid);
    if (values.json) {
      printJson(io, lab.describe());
      return 0;
    }
    io.stdout(renderLabSummary(lab));
    return 0;
  },
};

export function renderLabSummary(lab: Lab): string {
  const d = lab.describe();
  const rows = d.nodes.map((n) => [
    n.name,
    n.namespace,
    n.iface,
    n.underlays.join(' ') + (n.privateAddress ? ` (NAT ${n.nat.configured}, node ${n.privateAddress})` : ''),
    n.addresses?.ipv4 ?? '-',
    n.relay ? 'relay' : '-',
    String(n.pid ?? '-'),
  ]);
  const prom = d.prometheus ? `prometheus  ${d.prometheus.url} (pid ${d.prometheus.pid ?? '-'}; scrapes ${d.prometheus.targets.controller} and ${d.prometheus.targets.agents.length} agents)\n` : '';
  return (
    `controller  ${d.controller.url} (pid ${d.controller.pid ?? '-'}${d.controller.caFile ? `, CA ${d.controller.caFile}` : ', plain http'})\n${prom}\n` +
    renderTable(['NODE', 'NAMESPACE', 'IFACE', 'UNDERLAY', 'OVERLAY', 'ROLE', 'PID'], rows) +
    (d.sites.length > 0 ? '\n' + renderTable(['SITE', 'NAMESPACE', 'HOST', 'GATEWAYS'], d.sites.map((x) => [x.prefix, x.namespace, x.host, x.gateways.join(', ')])) : '') +
    `\nnext: trellis lab status | trellis status --node n1 | trellis lab exec n1 -- ping ${d.nodes[1]?.addresses?.ipv4 ?? '<peer>'} | trellis lab down\n`
  );
}
