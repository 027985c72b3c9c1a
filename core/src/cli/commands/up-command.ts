import type { startAgent as Start } from '../../agent/agent';
import { createLogger } from '../../log/logger';
import type { CliIO } from '../cli-io';
import type { Command } from '../command';
import { parseDurationInRange, parseHostPort, parseIface, parseNodeName, parsePort, parseUrl } from '../flag-values';
import { checkTransport } from '../../auth/controller-trust';
import { optionalFlag, parseFlagsWithEnv, requiredFlag } from '../env-flags';
import { UsageError } from '../usage-error';
import { DEFAULT_RELAY_PORT } from '../../agent/start-options';
import { TrellisError } from '../../errors';
import { assignChecks, checkAdvertisement, DEFAULT_ROUTE_PRIORITY, MAX_ROUTE_PRIORITY } from '../../netmap/route-rules';
import { formatPrefix, parsePrefix } from '../../net';
import { MAX_ROUTE_CHECK_INTERVAL_MS, MIN_ROUTE_CHECK_INTERVAL_MS, ROUTE_CHECK_INTERVAL_MS } from '../../agent/route-health';

/** Loaded on use, so other commands (and `trellis up`'s start-up) do not pay for this module. */
const startAgent = (...args: Parameters<typeof Start>): ReturnType<typeof Start> =>
  (require('../../agent/agent') as { startAgent: typeof Start }).startAgent(...args);

const NAME = 'up';

/** Flags the environment may give (TRELLIS_CONTROLLER, TRELLIS_NAME, …). */
const ENV_FLAGS = [
  'controller', 'name', 'state-dir', 'iface', 'auth-key', 'listen-port', 'probe-interval', 'probe-port', 'config', 'endpoint', 'relay', 'relay-port', 'stun', 'on-demand-idle',
  'advertise-routes', 'route-check', 'route-check-interval', 'route-priority', 'snat-routes', 'accept-routes',
  'advertise-exit', 'exit-node', 'exit-node-fallback', 'exit-exclude', 'route-exclude', 'route-include', 'ca', 'ca-fingerprint', 'insecure',
] as const;

function parseBool(flag: string, value: string | undefined, dflt: boolean): boolean {
  if (value === undefined) return dflt;
  if (value === 'true' || value === '1' || value === 'yes') return true;
  if (value === 'false' || value === '0' || value === 'no') return false;
  throw new UsageError(`${flag} "${value}" is not true or false`, NAME);
}

const list = (values: unknown): string[] =>
  ((values as string[] | undefined) ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');

/**
 * parseAdvertisement reads --advertise-routes, --route-check, --route-check-interval, --route-priority and --snat-routes
 * with the controller's own rules (route-rules.ts), so a bad prefix stops `trellis up` before
 * anything starts; only the overlay check waits for the controller (it knows the overlay).
 */
function parseAdvertisement(flags: ReturnType<typeof parseFlagsWithEnv>) {
  const { values, source } = flags;
  const prefixes = list(values['advertise-routes']);
  const exit = values['advertise-exit'] === true;
  const checks = list(values['route-check']);
  const priorityText = optionalFlag(flags, 'route-priority');
  const snatText = optionalFlag(flags, 'snat-routes');
  const intervalText = optionalFlag(flags, 'route-check-interval');
  if (prefixes.length === 0 && !exit) {
    for (const f of ['route-check', 'route-check-interval', 'route-priority', 'snat-routes'] as const) {
      if (values[f] !== undefined) throw new UsageError(`${source[f] ?? `--${f}`} needs --advertise-routes or --advertise-exit`, NAME);
    }
    return null;
  }
  const priority = priorityText === undefined ? DEFAULT_ROUTE_PRIORITY : Number(priorityText);
  if (intervalText !== undefined && checks.length === 0) throw new UsageError(`${source['route-check-interval']} needs --route-check`, NAME);
  const checkIntervalMs = intervalText === undefined ? ROUTE_CHECK_INTERVAL_MS : parseDurationInRange(source['route-check-interval']!, intervalText, NAME, MIN_ROUTE_CHECK_INTERVAL_MS, MAX_ROUTE_CHECK_INTERVAL_MS);
  try {
    const routes = checkAdvertisement({ routes: assignChecks(prefixes, checks), priority, exit: false }, null);
    return { routes: routes.map((r) => ({ prefix: r.prefix, check: r.check })), priority, exit, snat: parseBool(source['snat-routes'] ?? '--snat-routes', snatText, true), checkIntervalMs };
  } catch (err) {
    if (err instanceof TrellisError) throw new UsageError(err.message, NAME);
    throw err;
  }
}

/** parseExitPrefs reads --exit-node, --exit-node-fallback, --exit-exclude, --route-exclude and --route-include. */
function parseExitPrefs(flags: ReturnType<typeof parseFlagsWithEnv>): { exitNode: string | null; exitNodeFallback: string | null; exclude: string[]; include?: string[] } {
  const { values, source } = flags;
  const exitNode = optionalFlag(flags, 'exit-node');
  const fallback = optionalFlag(flags, 'exit-node-fallback');
  if (fallback !== undefined && exitNode === undefined) throw new UsageError(`${source['exit-node-fallback']} needs --exit-node`, NAME);
  if (values['exit-exclude'] !== undefined && exitNode === undefined) throw new UsageError(`${source['exit-exclude'] ?? '--exit-exclude'} needs --exit-node`, NAME);
  const node = exitNode === undefined ? null : parseNodeName(source['exit-node']!, exitNode, NAME);
  const fb = fallback === undefined ? null : parseNodeName(source['exit-node-fallback']!, fallback, NAME);
  if (node !== null && node === fb) throw new UsageError(`--exit-node-fallback ${fb} is the --exit-node itself; name another node`, NAME);
  const exclude: string[] = [];
  for (const [flag, vals] of [['--exit-exclude', values['exit-exclude']], ['--route-exclude', values['route-exclude']]] as const) {
    for (const c of list(vals)) {
      const p = parsePrefix(c);
      if (!p || !c.includes('/')) throw new UsageError(`${flag} "${c}" is not a CIDR such as 192.0.2.0/24`, NAME);
      const canonical = formatPrefix(p);
      if (canonical !== c) throw new UsageError(`${flag} "${c}" has host bits set; the network is ${canonical}`, NAME);
      if (p.length === 0) throw new UsageError(`${flag} "${c}" would exclude everything; leave --exit-node out instead`, NAME);
      if (!exclude.includes(canonical)) exclude.push(canonical);
    }
  }
  const include: string[] = [];
  for (const c of list(values['route-include'])) {
    const flag = source['route-include'] ?? '--route-include';
    const p = parsePrefix(c);
    if (!p || !c.includes('/')) throw new UsageError(`${flag} "${c}" is not a CIDR such as 10.20.0.0/16`, NAME);
    const canonical = formatPrefix(p);
    if (canonical !== c) throw new UsageError(`${flag} "${c}" has host bits set; the network is ${canonical}`, NAME);
    if (p.length === 0) throw new UsageError(`${flag} "${c}" would include every route, as leaving it out does; name the networks to accept`, NAME);
    if (!include.includes(canonical)) include.push(canonical);
  }
  return { exitNode: node, exitNodeFallback: fb, exclude, ...(include.length > 0 ? { include } : {}) };
}

/** `trellis up`: join the mesh and run the agent in the foreground until SIGINT/SIGTERM or `trellis down`. */
export const upCommand: Command = {
  name: NAME,
  summary: 'join the mesh and run the agent in the foreground',
  help: `Usage: trellis up --controller <url> --name <name> --state-dir <dir> --iface <name> [flags]

Runs the node agent until SIGINT, SIGTERM or \`trellis down\`. The first start enrolls with
--auth-key; later starts reuse the identity kept in --state-dir. Every flag can also come from the
environment variable in brackets (a flag given on the command line wins); the systemd unit reads
them from /etc/trellis/agent.env.

Flags:
  --controller <url>       controller URL; several controllers sharing one store as <url>,<url>:
                           the agent uses one and fails over to the next [TRELLIS_CONTROLLER]
  --name <name>            node name: lower-case letters, digits and - [TRELLIS_NAME]
  --state-dir <dir>        identity, cached map and agent.sock live here [TRELLIS_STATE_DIR]
  --iface <name>           WireGuard interface, at most 15 of [a-zA-Z0-9_-]; unique on the machine [TRELLIS_IFACE]
  --auth-key <key>         auth key for the first enrollment [TRELLIS_AUTH_KEY]
  --listen-port <port>     WireGuard UDP port (default 51820) [TRELLIS_LISTEN_PORT]
  --probe-interval <dur>   time between probes to each peer, e.g. 1s, 250ms (default 1s) [TRELLIS_PROBE_INTERVAL]
  --probe-port <port>      UDP port for overlay probes (default 51999) [TRELLIS_PROBE_PORT]
  --config <file>          YAML/JSON config with the agent.plugins list [TRELLIS_CONFIG]
  --endpoint <host:port>   underlay endpoint to advertise; repeat for more (default: discovered)
                           [TRELLIS_ENDPOINT, comma-separated]
  --relay                  offer this node as a relay: it forwards other pairs' WireGuard datagrams
                           (end-to-end encrypted) on --relay-port; without it the node is not one
                           (a restart without --relay withdraws the offer) [TRELLIS_RELAY=true|false]
  --relay-port <port>      UDP port the relay forwards on (default ${DEFAULT_RELAY_PORT}; needs --relay) [TRELLIS_RELAY_PORT]
  --on-demand-idle <dur>   when hubs forward end to end, a remote spoke added as a peer on demand is
                           removed after this long without traffic, e.g. 60s (default 60s, 1s..1h)
                           [TRELLIS_ON_DEMAND_IDLE]
  --stun <host:port>       STUN server asked on the WireGuard socket for this node's reflexive
                           (NAT-mapped) address, reported as a candidate; repeat for more
                           (default: the controller's host, port 3478) [TRELLIS_STUN, comma-separated]
  --advertise-routes <cidrs>  subnets behind this node to route for the mesh, comma-separated, e.g.
                           10.20.0.0/24; each waits for approval (\`trellis routes approve\` or the
                           policy's auto-approvers) [TRELLIS_ADVERTISE_ROUTES]
  --route-check <ips>      an address inside an advertised subnet to ping (every 500 ms) so peers
                           move to another gateway when it stops answering; comma-separated, one per
                           route at most [TRELLIS_ROUTE_CHECK]
  --route-check-interval <duration>  how often to ping the --route-check targets; two misses make
                           the route unhealthy (default 500ms, 100ms..60s) [TRELLIS_ROUTE_CHECK_INTERVAL]
  --route-priority <n>     0..${MAX_ROUTE_PRIORITY}, the higher wins among healthy gateways of one subnet
                           (default ${DEFAULT_ROUTE_PRIORITY}) [TRELLIS_ROUTE_PRIORITY]
  --snat-routes <bool>     masquerade routed traffic behind this node's LAN address (default true)
                           [TRELLIS_SNAT_ROUTES]
  --accept-routes <bool>   install the approved subnets other gateways advertise (default true)
                           [TRELLIS_ACCEPT_ROUTES]
  --route-exclude <cidrs>  never install an accepted subnet inside these, comma-separated [TRELLIS_ROUTE_EXCLUDE]
  --route-include <cidrs>  install only the accepted subnets inside these (default: every approved
                           one), comma-separated [TRELLIS_ROUTE_INCLUDE]
  --advertise-exit         offer this node as an exit node (0.0.0.0/0 and ::/0, approved like a route);
                           it forwards and masquerades the traffic out of its own uplink [TRELLIS_ADVERTISE_EXIT]
  --exit-node <name>       send all traffic that is not for the mesh, its subnets or the local LAN
                           through this exit node [TRELLIS_EXIT_NODE]
  --exit-node-fallback <name>  the exit node to use while --exit-node is offline; back to --exit-node
                           once it has been up for 10 s [TRELLIS_EXIT_NODE_FALLBACK]
  --exit-exclude <cidrs>   destinations that never go through the exit node, comma-separated
                           (e.g. 192.0.2.0/24) [TRELLIS_EXIT_EXCLUDE]
  --ca <file>              the controller's CA (its ca.crt); pinned in --state-dir [TRELLIS_CA]
  --ca-fingerprint <fp>    sha256:… of the controller's CA, as \`trellis controller init\` printed it:
                           trusted on first use, then pinned [TRELLIS_CA_FINGERPRINT]
                           (without either: the CA pinned before, else the system's CAs)
  --insecure               allow plain http:// to a controller that is not on loopback [TRELLIS_INSECURE]
  -h, --help               show this help
`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const options = {
      controller: { type: 'string' },
      name: { type: 'string' },
      'state-dir': { type: 'string' },
      iface: { type: 'string' },
      'auth-key': { type: 'string' },
      'listen-port': { type: 'string' },
      'probe-interval': { type: 'string' },
      'probe-port': { type: 'string' },
      config: { type: 'string' },
      endpoint: { type: 'string', multiple: true },
      relay: { type: 'boolean' },
      'relay-port': { type: 'string' },
      stun: { type: 'string', multiple: true },
      'on-demand-idle': { type: 'string' },
      'advertise-routes': { type: 'string', multiple: true },
      'route-check': { type: 'string', multiple: true },
      'route-check-interval': { type: 'string' },
      'route-priority': { type: 'string' },
      'snat-routes': { type: 'string' },
      'accept-routes': { type: 'string' },
      'route-exclude': { type: 'string', multiple: true },
      'route-include': { type: 'string', multiple: true },
      'advertise-exit': { type: 'boolean' },
      'exit-node': { type: 'string' },
      'exit-node-fallback': { type: 'string' },
      'exit-exclude': { type: 'string', multiple: true },
      ca: { type: 'string' },
      'ca-fingerprint': { type: 'string' },
      insecure: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    } as const;
    const flags = parseFlagsWithEnv(NAME, argv, options, ENV_FLAGS, io.env);
    const { values, source } = flags;
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    const controllerUrl = requiredFlag(flags, 'controller', '<url>', NAME, true);
    const name = requiredFlag(flags, 'name', '<name>', NAME);
    const stateDir = requiredFlag(flags, 'state-dir', '<dir>', NAME);
    const iface = requiredFlag(flags, 'iface', '<name>', NAME);
    const listenPort = optionalFlag(flags, 'listen-port');
    const probePort = optionalFlag(flags, 'probe-port');
    const probeInterval = optionalFlag(flags, 'probe-interval');
    const onDemandIdle = optionalFlag(flags, 'on-demand-idle');
    const endpoints = values.endpoint as string[] | undefined;
    const stun = values.stun as string[] | undefined;
    const relayPort = optionalFlag(flags, 'relay-port');
    if (relayPort !== undefined && values.relay !== true) throw new UsageError(`${source['relay-port']} needs --relay (or TRELLIS_RELAY=true)`, NAME);
    const relay = values.relay === true ? { port: relayPort !== undefined ? parsePort(source['relay-port']!, relayPort, NAME) : DEFAULT_RELAY_PORT } : null;
    const advertise = parseAdvertisement(flags);
    const acceptRoutes = parseBool(source['accept-routes'] ?? '--accept-routes', optionalFlag(flags, 'accept-routes'), true);
    const exit = parseExitPrefs(flags);
    const opts = {
      prefs: { acceptRoutes, ...exit },
      advertise,
      controllerUrl: parseControllerList(source.controller!, controllerUrl),
      name: parseNodeName(source.name!, name, NAME),
      stateDir,
      iface: parseIface(source.iface!, iface, NAME),
      authKey: optionalFlag(flags, 'auth-key'),
      listenPort: listenPort !== undefined ? parsePort(source['listen-port']!, listenPort, NAME) : 51820,
      probePort: probePort !== undefined ? parsePort(source['probe-port']!, probePort, NAME) : 51999,
      probeIntervalMs: probeInterval !== undefined ? parseDurationInRange(source['probe-interval']!, probeInterval, NAME, 10, 3_600_000) : 1000,
      ...(onDemandIdle !== undefined ? { onDemandIdleMs: parseDurationInRange(source['on-demand-idle']!, onDemandIdle, NAME, 1000, 3_600_000) } : {}),
      configFile: optionalFlag(flags, 'config'),
      endpoints: endpoints?.map((e) => parseHostPort(source.endpoint!, e, NAME)),
      relay,
      ...(stun !== undefined ? { stun: stun.map((e) => parseHostPort(source.stun!, e, NAME)) } : {}),
      ca: optionalFlag(flags, 'ca'),
      caFingerprint: optionalFlag(flags, 'ca-fingerprint'),
      insecure: values.insecure === true,
    };
    if (relay !== null && relay.port === opts.listenPort) {
      throw new UsageError(`--relay-port ${relay.port} is the WireGuard listen port; give the relay a port of its own`, NAME);
    }
    const fingerprint = opts.caFingerprint;
    if (fingerprint !== undefined && !/^(sha256:)?[0-9a-fA-F:]{64,95}$/.test(fingerprint)) {
      throw new UsageError(`${source['ca-fingerprint']} "${fingerprint}" is not sha256:<64 hex digits>, as \`trellis controller init\` prints it`, NAME);
    }
    for (const url of opts.controllerUrl.split(',')) {
      try {
        checkTransport(url, opts.insecure);
      } catch (err) {
        throw new UsageError((err as Error).message, NAME);
      }
    }
    if (io.shutdown.aborted) return 130;
    const handle = await startAgent({ ...opts, log: createLogger('agent'), signal: io.shutdown }).catch((err: unknown) => {
      if (io.shutdown.aborted) return null;
      throw err;
    });
    if (handle === null) {
      io.stderr('trellis up: interrupted before the node joined\n');
      return 130;
    }
    const onShutdown = () => {
      io.stderr('trellis up: shutting down\n');
      void handle.stop();
    };
    if (io.shutdown.aborted) onShutdown();
    else io.shutdown.addEventListener('abort', onShutdown, { once: true });
    const s = await handle.status().catch(() => null);
    io.stdout(
      `trellis up: ${opts.name} on ${opts.iface}` +
        (s?.node.addresses ? ` (${s.node.addresses.ipv4}, ${s.node.addresses.ipv6})` : '') +
        `, ${s ? `${s.peers.length} peers` : 'starting'}\n`,
    );
    await handle.done;
    io.shutdown.removeEventListener('abort', onShutdown);
    return 0;
  },
};

/** parseControllerList checks each of `a,b,…` as a URL; the agent fails over between them in this order. */
function parseControllerList(flag: string, value: string): string {
  const urls = value
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '')
    .map((u) => parseUrl(flag, u, NAME));
  if (urls.length === 0) throw new UsageError(`${flag} "${value}" names no controller, e.g. http://127.0.0.1:8080`, NAME);
  if (new Set(urls).size !== urls.length) throw new UsageError(`${flag} "${value}" lists a controller twice`, NAME);
  return urls.join(',');
}
