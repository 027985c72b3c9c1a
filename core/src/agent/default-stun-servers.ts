/**
 * The STUN servers an agent asks when none are configured: each controller's host on port 3478
 * (controllers answer binding requests there), for one controller or several sharing one store.
 */
import { parseControllerUrls } from '../client/controller-urls';

/** defaultStunServers maps `https://a:4000,https://b:4000` to `a:3478`, `b:3478`; a bad list gives none. */
export function defaultStunServers(controllerUrls: string): string[] {
  let urls: string[];
  try {
    urls = parseControllerUrls(controllerUrls);
  } catch {
    return [];
  }
  const hosts = urls.map((u) => new URL(u).hostname).filter((h) => h !== '');
  return [...new Set(hosts)].map((h) => `${h}:3478`);
}
