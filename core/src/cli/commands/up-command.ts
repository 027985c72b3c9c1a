import type { startAgent as Start } from '../../agent/agent';
import { createLogger } from '../../log/logger';
import type { CliIO } from '../cli-io';
import type { Command } from '../command';
import { parseDurationInRange, parseHostPort, parseIface, parseNodeName, parsePort, parseUrl } from '../flag-values';
import { parseCommandArgs } from '../parse-command-args';
import { UsageError } from '../usage-error';

/** Loaded on use, so other commands (and `trellis up`'s start-up) do not pay for this module. */
const startAgent = (...args: Parameters<typeof Start>): ReturnType<typeof Start> =>
  (require('../../agent/agent') as { startAgent: typeof Start }).startAgent(...args);

const NAME = 'up';

/** `trellis up`: join the mesh and run the agent in the foreground until SIGINT/SIGTERM or `trellis down`. */
export const upCommand: Command = {
  name: NAME,
  summary: 'join the mesh and run the agent in the foreground',
  help: `Usage: trellis up --controller <url> --name <name> --state-dir <dir> --iface <name> [flags]

Runs the node agent until SIGINT, SIGTERM or \`trellis down\`. The first start enrolls with
--auth-key; later starts reuse the identity kept in --state-dir.

Flags:
  --controller <url>       controller URL (env TRELLIS_CONTROLLER)
  --name <name>            node name: lower-case letters, digits and -
  --state-dir <dir>        identity, cached map and agent.sock live here
  --iface <name>           WireGuard interface, at most 15 of [a-zA-Z0-9_-]; unique on the machine
  --auth-key <key>         auth key for the first enrollment (env TRELLIS_AUTH_KEY)
  --listen-port <port>     WireGuard UDP port (default 51820)
  --probe-interval <dur>   time between probes to each peer, e.g. 1s, 250ms (default 1s)
  --probe-port <port>      UDP port for overlay probes (default 51999)
  --config <file>          YAML/JSON config with the agent.plugins list
  --endpoint <host:port>   underlay endpoint to advertise; repeat for more (default: discovered)
  -h, --help               show this help
`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs(NAME, {
      args: argv,
      options: {
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
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    const controllerUrl = values.controller ?? (io.env.TRELLIS_CONTROLLER || undefined);
    if (controllerUrl === undefined) throw new UsageError('--controller <url> is required (or set TRELLIS_CONTROLLER)', NAME);
    if (values.name === undefined) throw new UsageError('--name <name> is required', NAME);
    if (values['state-dir'] === undefined) throw new UsageError('--state-dir <dir> is required', NAME);
    if (values.iface === undefined) throw new UsageError('--iface <name> is required', NAME);
    const listenPort = values['listen-port'] !== undefined ? parsePort('--listen-port', values['listen-port'], NAME) : 51820;
    const probePort = values['probe-port'] !== undefined ? parsePort('--probe-port', values['probe-port'], NAME) : 51999;
    const probeIntervalMs =
      values['probe-interval'] !== undefined
        ? parseDurationInRange('--probe-interval', values['probe-interval'], NAME, 10, 3_600_000)
        : 1000;
    const opts = {
      controllerUrl: parseUrl('--controller', controllerUrl, NAME),
      name: parseNodeName('--name', values.name, NAME),
      stateDir: values['state-dir'],
      iface: parseIface('--iface', values.iface, NAME),
      authKey: values['auth-key'] ?? (io.env.TRELLIS_AUTH_KEY || undefined),
      listenPort,
      probePort,
      probeIntervalMs,
      configFile: values.config,
      endpoints: values.endpoint?.map((e) => parseHostPort('--endpoint', e, NAME)),
    };
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
