/**
 * resolveAdminTarget finds the controller and its admin token from flags, environment, a data
 * dir, the running lab, or the controller service (/etc/trellis/controller.env), in that order.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { controllerTlsFiles } from '../auth/controller-tls';
import { checkTransport, parseCaPem, trustingFetch } from '../auth/controller-trust';
import { AdminClient } from '../client/admin-client';
import { parseControllerUrls } from '../client/controller-urls';
import { errors } from '../errors';
import { Lab } from '../lab/lab';
import { labDir } from '../lab/lab-state';
import { installedController } from './installed-services';
import { UsageError } from './usage-error';

export interface AdminFlags {
  controller?: string;
  'admin-token-file'?: string;
  'data-dir'?: string;
  ca?: string;
  insecure?: boolean;
}

/** Flag definitions shared by the admin commands (keys, nodes). */
export const ADMIN_FLAG_OPTIONS = {
  controller: { type: 'string' },
  'admin-token-file': { type: 'string' },
  'data-dir': { type: 'string' },
  ca: { type: 'string' },
  insecure: { type: 'boolean' },
} as const;

export const ADMIN_FLAG_HELP = `Controller:
  --controller <url[,url]>   controller URL, or several sharing one store, tried in turn when one cannot be
                             reached (env TRELLIS_CONTROLLER; default: the running lab's, else the
                             service's in /etc/trellis/controller.env, with the token from its data dir)
  --admin-token-file <path>  file holding the admin token (env TRELLIS_ADMIN_TOKEN holds the token itself)
  --data-dir <dir>           the controller's data dir: reads <dir>/admin.token (and trusts <dir>/tls/ca.crt)
  --ca <file>                the controller's CA certificate, for https (env TRELLIS_CA; default: tls/ca.crt
                             of the data dir, of the token file's dir, the lab's or the service's, else the
                             system's CAs)
  --insecure                 allow plain http to a controller that is not on loopback (env TRELLIS_INSECURE)
`;

/**
 * resolveAdminTarget builds an AdminClient from flags, then environment, then the running lab, then
 * the controller installed as a service (/etc/trellis/controller.env).
 */
export function resolveAdminTarget(flags: AdminFlags, env: NodeJS.ProcessEnv, command: string): AdminClient {
  const lab = flags.controller === undefined && !env.TRELLIS_CONTROLLER ? Lab.running(labDir(env)) : null;
  const service = flags.controller === undefined && !env.TRELLIS_CONTROLLER && !lab ? installedController(env) : null;
  const rawUrl = flags.controller ?? (env.TRELLIS_CONTROLLER || undefined) ?? lab?.controllerUrls.join(',') ?? service?.url;
  if (rawUrl === undefined) {
    throw new UsageError('no controller given: pass --controller <url>, set TRELLIS_CONTROLLER, or start a lab', command);
  }
  let urls = parseUrls(rawUrl, command);
  // A service that was given a certificate serves https.
  if (service && existsSync(controllerTlsFiles(service.dataDir).cert)) urls = urls.map((u) => u.replace(/^http:/, 'https:'));

  let token: string | undefined;
  if (flags['admin-token-file'] !== undefined) token = readToken(flags['admin-token-file']);
  else if (env.TRELLIS_ADMIN_TOKEN) token = env.TRELLIS_ADMIN_TOKEN.trim();
  else if (flags['data-dir'] !== undefined) token = readToken(join(flags['data-dir'], 'admin.token'));
  else if (lab) token = readToken(join(lab.state.controller!.dataDir, 'admin.token'));
  else if (service) token = readToken(join(service.dataDir, 'admin.token'));
  if (token === undefined || token === '') {
    throw new UsageError('no admin token: pass --admin-token-file or --data-dir, or set TRELLIS_ADMIN_TOKEN', command);
  }
  // Where the CA may be: the data dir given, the one holding the token file, the running lab's (also
  // when its URL was given explicitly), the service's.
  const sameLab = lab ?? (() => {
    const running = Lab.running(labDir(env));
    return running && urls.every((u) => running.controllerUrls.includes(u)) ? running : null;
  })();
  const tokenDir = flags['admin-token-file'] !== undefined ? dirname(flags['admin-token-file']) : undefined;
  return new AdminClient(urls.join(','), token, adminFetch(urls, flags, env, [flags['data-dir'], tokenDir, sameLab?.state.controller?.dataDir, service?.dataDir], command));
}

/**
 * adminFetch is the fetch the CLI trusts the controller with: --ca or TRELLIS_CA, else the first
 * data dir (flag, the token file's, lab, service) holding tls/ca.crt, else the system's CAs. Plain http to a
 * non-loopback controller needs --insecure (or TRELLIS_INSECURE=true) and is warned about.
 */
function adminFetch(urls: readonly string[], flags: AdminFlags, env: NodeJS.ProcessEnv, dataDirs: Array<string | undefined>, command: string): typeof fetch {
  const insecure = flags.insecure === true || /^(1|true|yes|on)$/i.test(env.TRELLIS_INSECURE ?? '');
  for (const url of urls) {
    let warning: string | null;
    try {
      warning = checkTransport(url, insecure);
    } catch (err) {
      throw new UsageError((err as Error).message, command);
    }
    if (warning) process.stderr.write(`trellis: warning: ${warning}\n`);
  }
  if (!urls.some((u) => u.startsWith('https:'))) return fetch;
  const caFile = flags.ca ?? (env.TRELLIS_CA || undefined) ?? dataDirs.map((d) => (d ? controllerTlsFiles(d).caCert : '')).find((f) => f !== '' && existsSync(f));
  if (caFile === undefined) return trustingFetch(null);
  let text: string;
  try {
    text = readFileSync(caFile, 'utf8');
  } catch (err) {
    throw errors.usage(`cannot read the CA certificate ${caFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return trustingFetch(parseCaPem(text, caFile));
}

/** parseUrls reads --controller: one URL or several controllers sharing a store, comma-separated. */
function parseUrls(list: string, command: string): string[] {
  try {
    return parseControllerUrls(list);
  } catch (err) {
    throw new UsageError(`--controller: ${(err as Error).message}`, command);
  }
}

function readToken(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw errors.usage(`cannot read admin token file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
