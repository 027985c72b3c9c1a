/**
 * Controller URL lists: one controller, or several sharing one store (`--controller a,b`), as agents
 * and admin commands take them, and which failures let a request move on to the next controller.
 */
import { errors } from '../errors';

/** parseControllerUrls splits `a,b,c` into base URLs without trailing slashes; throws naming a bad one. */
export function parseControllerUrls(list: string): string[] {
  const urls = list
    .split(',')
    .map((u) => u.trim().replace(/\/+$/, ''))
    .filter((u) => u !== '');
  if (urls.length === 0) throw errors.configInvalid('controller URL', `"${list}" names no controller, e.g. http://127.0.0.1:8080`);
  for (const u of urls) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw errors.configInvalid('controller URL', `"${u}" is not a URL, e.g. http://127.0.0.1:8080`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw errors.configInvalid('controller URL', `"${u}" must be an http:// or https:// URL`);
  }
  if (new Set(urls).size !== urls.length) throw errors.configInvalid('controller URL', `"${list}" lists a controller twice`);
  return urls;
}

/** Answers that say "this controller cannot serve now; another may". */
export const FAILOVER_STATUS: ReadonlySet<number> = new Set([502, 503, 504]);

/** Connection failures that happen before a request is sent: retrying it elsewhere cannot apply it twice. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'EADDRNOTAVAIL']);

/**
 * neverConnected tells a fetch() rejection that reached no controller (refused, no route, no such
 * host, connect timeout) from one where the request may have been received (reset, timed out mid-way).
 */
export function neverConnected(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } } | null)?.cause;
  return typeof cause?.code === 'string' && NOT_CONNECTED.has(cause.code);
}
