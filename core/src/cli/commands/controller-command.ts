import type { startController as Start } from '../../controller/controller';
import { ErrorCode, TrellisError } from '../../errors';
import { createLogger } from '../../log/logger';
import { waitForAbort, type CliIO } from '../cli-io';
import type { Command } from '../command';
import { parseDurationInRange, parseHostPort } from '../flag-values';
import { optionalFlag, parseFlagsWithEnv, requiredFlag } from '../env-flags';
import { UsageError } from '../usage-error';

/** Loaded on use, so other commands (and `trellis up`'s start-up) do not pay for this module. */
const startController = (...args: Parameters<typeof Start>): ReturnType<typeof Start> =>
  (require('../../controller/controller') as { startController: typeof Start }).startController(...args);

const NAME = 'controller';

/** Flags the environment may give (TRELLIS_LISTEN, TRELLIS_DATA_DIR, …). */
const ENV_FLAGS = ['listen', 'data-dir', 'store', 'ipv4-cidr', 'ipv6-prefix', 'config', 'require-approval', 'stun', 'route-hold-down', 'insecure'] as const;

/** `trellis controller`: the coordination server, in the foreground until SIGINT/SIGTERM. */
export const controllerCommand: Command = {
  name: NAME,
  summary: 'run the coordination server in the foreground',
  help: `Usage: trellis controller --listen <host:port> --data-dir <dir> [flags]

Runs the controller until SIGINT or SIGTERM, then closes it cleanly. It serves https with the
certificate \`trellis controller init\` made in <data-dir>/tls, and plain http only on a loopback
address or with --insecure. Every flag can also come from
the environment variable in brackets (a flag given on the command line wins); the systemd unit
reads them from /etc/trellis/controller.env.

Flags:
  --listen <host:port>    address to serve on, e.g. 127.0.0.1:8080 (port 0 picks a free one) [TRELLIS_LISTEN]
  --data-dir <dir>        holds trellis.db and admin.token (created 0600) [TRELLIS_DATA_DIR]
  --store <sqlite|url>    where the state lives: sqlite (trellis.db in --data-dir, the default) or
                          postgres://user:password@host:port/database, which several controllers may
                          share (give each the same admin.token; agents list them all in --controller)
                          [TRELLIS_STORE]
  --ipv4-cidr <cidr>      overlay IPv4 pool (default 100.64.0.0/10) [TRELLIS_IPV4_CIDR]
  --ipv6-prefix <prefix>  overlay IPv6 ULA /48 (default fd7a:7e11:5000::/48) [TRELLIS_IPV6_PREFIX]
  --config <file>         YAML/JSON config with the controller.plugins list [TRELLIS_CONFIG]
  --require-approval      new nodes wait, with no peers, until \`trellis nodes approve <name>\` (kept in settings)
  --no-require-approval   new nodes join at once (the default; kept in settings)
                          [TRELLIS_REQUIRE_APPROVAL=true|false]
  --stun <host:port>[,<host:port>]  serve STUN binding requests (RFC 8489) on these UDP addresses,
                          e.g. 0.0.0.0:3478; repeatable. Nodes learn their NAT-mapped address from it,
                          and two addresses (another IP or port) let them tell an easy NAT from a hard
                          one [TRELLIS_STUN, comma-separated]
  --route-hold-down <dur>  how long a gateway that lost a route's primary role waits before it may
                          take it back from a healthy one (default 60s; no flap-back) [TRELLIS_ROUTE_HOLD_DOWN]
  --insecure              serve plain http on a non-loopback address when there is no certificate
                          (refused otherwise; run \`trellis controller init\` first) [TRELLIS_INSECURE]
  -h, --help              show this help
`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const options = {
      listen: { type: 'string' },
      'data-dir': { type: 'string' },
      store: { type: 'string' },
      'ipv4-cidr': { type: 'string' },
      'ipv6-prefix': { type: 'string' },
      config: { type: 'string' },
      'require-approval': { type: 'boolean' },
      'no-require-approval': { type: 'boolean' },
      stun: { type: 'string', multiple: true },
      'route-hold-down': { type: 'string' },
      insecure: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    } as const;
    const flags = parseFlagsWithEnv(NAME, argv, options, ENV_FLAGS, io.env);
    const { values, source } = flags;
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    const listenText = requiredFlag(flags, 'listen', '<host:port>', NAME);
    const dataDir = requiredFlag(flags, 'data-dir', '<dir>', NAME);
    const listen = parseHostPort(source.listen!, listenText, NAME);
    if (values['require-approval'] === true && values['no-require-approval'] === true) {
      throw new UsageError('--require-approval and --no-require-approval contradict each other; pass one', NAME);
    }
    // --no-require-approval on the command line outranks TRELLIS_REQUIRE_APPROVAL=true.
    const fromArgv = source['require-approval'] === '--require-approval';
    const requireApproval =
      values['no-require-approval'] === true && !fromArgv ? false : typeof values['require-approval'] === 'boolean' ? values['require-approval'] : undefined;
    const ipv4Cidr = optionalFlag(flags, 'ipv4-cidr');
    const ipv6Prefix = optionalFlag(flags, 'ipv6-prefix');
    if (ipv4Cidr !== undefined && !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(ipv4Cidr)) {
      throw new UsageError(`${source['ipv4-cidr']} "${ipv4Cidr}" is not an IPv4 CIDR, e.g. 100.64.0.0/10`, NAME);
    }
    if (ipv6Prefix !== undefined && !/^[0-9a-fA-F:]+\/\d{1,3}$/.test(ipv6Prefix)) {
      throw new UsageError(`${source['ipv6-prefix']} "${ipv6Prefix}" is not an IPv6 prefix, e.g. fd7a:7e11:5000::/48`, NAME);
    }
    const stun = ((values.stun as string[] | undefined) ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
    for (const l of stun) parseHostPort(source.stun!, l, NAME);
    if (new Set(stun).size !== stun.length) throw new UsageError(`${source.stun} lists an address twice (${stun.join(', ')})`, NAME);
    const holdDown = optionalFlag(flags, 'route-hold-down');
    const routeHoldDownMs = holdDown !== undefined ? parseDurationInRange(source['route-hold-down']!, holdDown, NAME, 0, 24 * 3_600_000) : undefined;
    const handle = await startController({
      routeHoldDownMs,
      listen,
      dataDir,
      store: optionalFlag(flags, 'store'),
      ipv4Cidr,
      ipv6Prefix,
      configFile: optionalFlag(flags, 'config'),
      requireApproval,
      stun,
      insecure: values.insecure === true,
      log: createLogger('controller'),
    }).catch((err: unknown) => {
      // A bad config file is bad input: one line, exit 2, and the controller never started.
      if (err instanceof TrellisError && err.code === ErrorCode.CONFIG_INVALID) throw new UsageError(err.message, NAME);
      throw err;
    });
    const stunAt = handle.stun?.addresses.map((a) => (a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`)) ?? [];
    io.stdout(`trellis controller listening on ${handle.url}${handle.tls ? ` (CA ${handle.tls.caFingerprint})` : ''}${stunAt.length ? `, STUN on udp ${stunAt.join(', ')}` : ''}\n`);
    await waitForAbort(io.shutdown);
    io.stderr('trellis controller: shutting down\n');
    await handle.close();
    return 0;
  },
};
