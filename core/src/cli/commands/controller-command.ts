import type { startController as Start } from '../../controller/controller';
import { createLogger } from '../../log/logger';
import { waitForAbort, type CliIO } from '../cli-io';
import type { Command } from '../command';
import { parseHostPort } from '../flag-values';
import { parseCommandArgs } from '../parse-command-args';
import { UsageError } from '../usage-error';

/** Loaded on use, so other commands (and `trellis up`'s start-up) do not pay for this module. */
const startController = (...args: Parameters<typeof Start>): ReturnType<typeof Start> =>
  (require('../../controller/controller') as { startController: typeof Start }).startController(...args);

const NAME = 'controller';

/** `trellis controller`: the coordination server, in the foreground until SIGINT/SIGTERM. */
export const controllerCommand: Command = {
  name: NAME,
  summary: 'run the coordination server in the foreground',
  help: `Usage: trellis controller --listen <host:port> --data-dir <dir> [flags]

Runs the controller until SIGINT or SIGTERM, then closes it cleanly.

Flags:
  --listen <host:port>    address to serve on, e.g. 127.0.0.1:8080 (port 0 picks a free one)
  --data-dir <dir>        holds trellis.db and admin.token (created 0600)
  --ipv4-cidr <cidr>      overlay IPv4 pool (default 100.64.0.0/10)
  --ipv6-prefix <prefix>  overlay IPv6 ULA /48 (default fd7a:7e11:5000::/48)
  --config <file>         YAML/JSON config with the controller.plugins list
  --require-approval      new nodes wait, with no peers, until \`trellis nodes approve <name>\` (kept in settings)
  --no-require-approval   new nodes join at once (the default; kept in settings)
  -h, --help              show this help
`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs(NAME, {
      args: argv,
      options: {
        listen: { type: 'string' },
        'data-dir': { type: 'string' },
        'ipv4-cidr': { type: 'string' },
        'ipv6-prefix': { type: 'string' },
        config: { type: 'string' },
        'require-approval': { type: 'boolean' },
        'no-require-approval': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    if (values.listen === undefined) throw new UsageError('--listen <host:port> is required', NAME);
    if (values['data-dir'] === undefined) throw new UsageError('--data-dir <dir> is required', NAME);
    const listen = parseHostPort('--listen', values.listen, NAME);
    if (values['require-approval'] && values['no-require-approval']) {
      throw new UsageError('--require-approval and --no-require-approval contradict each other; pass one', NAME);
    }
    const requireApproval = values['require-approval'] ? true : values['no-require-approval'] ? false : undefined;
    if (values['ipv4-cidr'] !== undefined && !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(values['ipv4-cidr'])) {
      throw new UsageError(`--ipv4-cidr "${values['ipv4-cidr']}" is not an IPv4 CIDR, e.g. 100.64.0.0/10`, NAME);
    }
    if (values['ipv6-prefix'] !== undefined && !/^[0-9a-fA-F:]+\/\d{1,3}$/.test(values['ipv6-prefix'])) {
      throw new UsageError(`--ipv6-prefix "${values['ipv6-prefix']}" is not an IPv6 prefix, e.g. fd7a:7e11:5000::/48`, NAME);
    }
    const handle = await startController({
      listen,
      dataDir: values['data-dir'],
      ipv4Cidr: values['ipv4-cidr'],
      ipv6Prefix: values['ipv6-prefix'],
      configFile: values.config,
      requireApproval,
      log: createLogger('controller'),
    });
    io.stdout(`trellis controller listening on ${handle.url}\n`);
    await waitForAbort(io.shutdown);
    io.stderr('trellis controller: shutting down\n');
    await handle.close();
    return 0;
  },
};
