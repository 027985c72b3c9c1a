/**
 * The agent's trust in its controller. https is verified against a pinned CA kept in the state
 * dir (controller-ca.pem, 0600): the file given with --ca, or on first use the CA the controller
 * presents whose fingerprint matches --ca-fingerprint; once pinned, that CA is used on every later
 * start, with or without flags. Without either, the system's CAs verify (a controller with a
 * publicly trusted certificate). Plain http is refused for a non-loopback controller unless
 * --insecure.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { certificateFingerprint, checkTransport, fetchCaByFingerprint, normalizeFingerprint, parseCaPem, trustingFetch } from '../auth/controller-trust';
import { errors, TrellisError } from '../errors';
import { writeFileAtomic } from './atomic-file';
import { Backoff, sleep, type BackoffOptions } from './backoff';

export const PINNED_CA_FILE = 'controller-ca.pem';

export interface ControllerPinOptions {
  controllerUrl: string;
  stateDir: string;
  /** PEM file of the controller's CA. */
  ca?: string;
  /** "sha256:<hex>" of the CA, trusted on first use. */
  caFingerprint?: string;
  /** Allow plain http to a non-loopback controller. */
  insecure?: boolean;
  backoff?: BackoffOptions;
  signal?: AbortSignal;
}

/** resolveControllerFetch returns the fetch that talks to the controller as the options say, pinning the CA as needed. */
export async function resolveControllerFetch(o: ControllerPinOptions, log: Logger): Promise<typeof fetch> {
  // Several controllers (`--controller a,b`, sharing one store) share one CA.
  const urls = o.controllerUrl.split(',');
  for (const u of urls) {
    const warning = checkTransport(u, o.insecure === true);
    if (warning) log.warn(warning);
  }
  const httpsUrls = urls.filter((u) => new URL(u).protocol === 'https:');
  if (httpsUrls.length === 0) {
    if (o.ca !== undefined || o.caFingerprint !== undefined) log.warn({ url: o.controllerUrl }, '--ca and --ca-fingerprint have no effect on an http:// controller');
    return fetch;
  }
  const pinnedFile = join(o.stateDir, PINNED_CA_FILE);
  const wanted = o.caFingerprint === undefined ? null : normalizeFingerprint(o.caFingerprint);
  if (o.caFingerprint !== undefined && wanted === null) throw errors.usage(`--ca-fingerprint "${o.caFingerprint}" is not sha256:<64 hex digits>, as \`trellis controller init\` prints it`);

  if (o.ca !== undefined) {
    let text: string;
    try {
      text = readFileSync(o.ca, 'utf8');
    } catch (err) {
      throw errors.usage(`cannot read --ca ${o.ca}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const pem = parseCaPem(text, o.ca);
    if (wanted !== null && certificateFingerprint(pem) !== wanted) {
      throw errors.tlsUntrusted(o.controllerUrl, `--ca ${o.ca} has fingerprint ${certificateFingerprint(pem)}, not the ${wanted} given with --ca-fingerprint`);
    }
    await pin(pinnedFile, pem, log);
    return trustingFetch(pem);
  }
  if (existsSync(pinnedFile)) {
    const pem = parseCaPem(readFileSync(pinnedFile, 'utf8'), pinnedFile);
    if (wanted !== null && certificateFingerprint(pem) !== wanted) {
      throw errors.tlsUntrusted(
        o.controllerUrl,
        `this node pinned the CA ${certificateFingerprint(pem)} (${pinnedFile}), not ${wanted}; if the controller's CA really changed, remove that file and start again`,
      );
    }
    return trustingFetch(pem);
  }
  if (wanted !== null) {
    const pem = await firstUse(o, wanted, log);
    await pin(pinnedFile, pem, log);
    return trustingFetch(pem);
  }
  return trustingFetch(null);
}

async function pin(file: string, pem: string, log: Logger): Promise<void> {
  if (existsSync(file) && readFileSync(file, 'utf8') === pem) return;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, pem);
  log.info({ file, caFingerprint: certificateFingerprint(pem) }, 'pinned the controller CA');
}

/** firstUse fetches the CA by fingerprint, waiting with backoff while the controller cannot be reached. */
async function firstUse(o: ControllerPinOptions, fingerprint: string, log: Logger): Promise<string> {
  const backoff = new Backoff(o.backoff);
  for (;;) {
    try {
      return await fetchCaByFingerprint(o.controllerUrl.split(',').find((u) => u.startsWith('https:')) ?? o.controllerUrl, fingerprint);
    } catch (err) {
      if (err instanceof TrellisError && err.code !== 'TRELLIS_ERR_CONTROLLER_UNREACHABLE') throw err;
      const delay = backoff.next();
      log.warn({ err: (err as Error).message, retryInMs: delay }, 'could not reach the controller to pin its CA; retrying');
      await sleep(delay, o.signal);
      if (o.signal?.aborted) throw errors.controllerUnreachable(o.controllerUrl, 'startup was cancelled while pinning the controller CA');
    }
  }
}
