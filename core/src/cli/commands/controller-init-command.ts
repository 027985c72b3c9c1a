import { loadOrCreateSigningKey } from '../../auth/controller-signing-key';
import type { CliIO } from '../cli-io';
import { printJson, type Command } from '../command';
import { parseFlagsWithEnv, requiredFlag } from '../env-flags';
import { UsageError } from '../usage-error';

const NAME = 'controller init';

/** `trellis controller init`: the controller's CA, its certificate and its signing key. */
export const controllerInitCommand: Command = {
  name: NAME,
  summary: "make the controller's CA, TLS certificate and signing key",
  help: `Usage: trellis controller init --data-dir <dir> [--san <names>] [--force] [--json]

Makes, in <dir>/tls (0700, files 0600): a CA (ca.crt, ca.key) and the controller's certificate
signed by it (controller.crt, controller.key), valid for the names and addresses in --san plus
localhost, 127.0.0.1 and ::1; and the controller's Ed25519 key that signs the audit log's
checkpoints (signing.key). It prints the CA's SHA-256 fingerprint: give it to agents as
\`trellis up --ca-fingerprint sha256:…\` (or copy ca.crt to them for --ca). The controller serves
https from then on.

Running it again never replaces the CA (agents have pinned it): with --force it issues a new
controller certificate from the same CA, e.g. for another --san; without, it refuses.

Flags:
  --data-dir <dir>   the controller's data dir [TRELLIS_DATA_DIR]
  --san <names>      host names and IP addresses clients use, comma-separated, e.g. ctl.example.com,192.0.2.10
  --force            issue a new controller certificate when there is one
  --json             print the result as JSON
  -h, --help         show this help
`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const options = {
      'data-dir': { type: 'string' },
      san: { type: 'string' },
      force: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    } as const;
    const flags = parseFlagsWithEnv(NAME, argv, options, ['data-dir'], io.env);
    const { values } = flags;
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    const dataDir = requiredFlag(flags, 'data-dir', '<dir>', NAME, true);
    // Loaded on use: the X.509 library is needed here only.
    const { initControllerTls, parseSans } = require('../../auth/tls-certificates') as typeof import('../../auth/tls-certificates');
    let names;
    try {
      names = parseSans(typeof values.san === 'string' ? values.san : '');
    } catch (err) {
      throw new UsageError(`--san: ${(err as Error).message.replace(/^TLS: /, '')}`, NAME);
    }
    const result = await initControllerTls(dataDir, names, values.force === true);
    const signing = loadOrCreateSigningKey(dataDir);
    const out = {
      caFingerprint: result.caFingerprint,
      caCreated: result.caCreated,
      caCert: result.files.caCert,
      cert: result.files.cert,
      names: [...result.names.dns, ...result.names.ips],
      signingPublicKey: signing.publicKey,
    };
    if (values.json) printJson(io, out);
    else {
      io.stdout(
        `${result.caCreated ? 'created CA' : 'kept the existing CA'} ${result.files.caCert}\n` +
          `issued ${result.files.cert} for ${out.names.join(', ')}\n` +
          `audit signing key ${signing.publicKey} (${dataDir}/signing.pub)\n` +
          `CA fingerprint: ${result.caFingerprint}\n` +
          `agents: trellis up --controller https://<${names.dns.find((d) => d !== 'localhost') ?? names.ips.find((i) => i !== '127.0.0.1' && i !== '::1') ?? 'host'}>:<port> --ca-fingerprint ${result.caFingerprint} ...\n`,
      );
    }
    return 0;
  },
};
