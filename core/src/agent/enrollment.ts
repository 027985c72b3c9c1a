/**
 * Enrollment: a node without a node id trades its auth key for one, once. The controller may be
 * down while a node is being set up, so the attempt is retried with backoff until it is refused.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { ed25519PrivateKey } from '../auth/keys';
import { ErrorCode, errors, TrellisError } from '../errors';
import type { NetworkMapData, RelayOffer } from '../netmap/types';
import { Backoff, sleep, type BackoffOptions } from './backoff';
import { isRefusal, type ControllerClient } from './controller-client';
import { saveIdentity, type NodeIdentity } from './identity';

export interface EnrollmentOptions {
  controllerUrl: string;
  stateDir: string;
  authKey?: string;
  /** The relay offer to enrol with (`trellis up --relay`). */
  relay?: RelayOffer | null;
  backoff?: BackoffOptions;
  /** Aborts the wait for an unreachable controller. */
  signal?: AbortSignal;
}

/**
 * ensureEnrolled returns the identity as it is when the node is already enrolled; otherwise it
 * enrolls, saves the new identity and returns it with the map the controller answered.
 */
export async function ensureEnrolled(
  client: ControllerClient,
  identity: NodeIdentity,
  endpoints: () => Promise<string[]>,
  log: Logger,
  opts: EnrollmentOptions,
): Promise<{ identity: NodeIdentity; map: NetworkMapData | null }> {
  if (identity.nodeId !== null) return { identity, map: null };
  if (!opts.authKey) {
    throw errors.usage(`node "${identity.name}" is not enrolled yet; pass an auth key (--auth-key) to join ${opts.controllerUrl}`);
  }
  const enrolled = await enroll(client, identity, opts.authKey, await endpoints().catch(() => []), log, opts);
  const next: NodeIdentity = {
    ...identity,
    nodeId: enrolled.nodeId,
    name: enrolled.name,
    addresses: enrolled.addresses,
    enrolledAt: Date.now(),
  };
  await saveIdentity(opts.stateDir, next);
  log.info({ nodeId: next.nodeId, name: next.name, addresses: next.addresses }, 'enrolled');
  return { identity: next, map: enrolled.map };
}

async function enroll(client: ControllerClient, identity: NodeIdentity, authKey: string, endpoints: string[], log: Logger, opts: EnrollmentOptions) {
  const backoff = new Backoff(opts.backoff);
  for (;;) {
    try {
      return await client.enroll(
        {
          authKey,
          name: identity.name,
          hostname: hostname(),
          wgKey: identity.wg.publicKey,
          identityKey: identity.identity.publicKey,
          endpoints,
          relay: opts.relay ?? null,
        },
        ed25519PrivateKey(identity.identity),
      );
    } catch (err) {
      // A refusal or an untrusted certificate will not change by trying again.
      if (isRefusal(err) || (err instanceof TrellisError && err.code === ErrorCode.TLS_UNTRUSTED)) throw err;
      const delay = backoff.next();
      log.warn({ err: (err as Error).message, retryInMs: delay }, 'enrollment failed; retrying');
      await sleep(delay, opts.signal);
      if (opts.signal?.aborted) throw errors.controllerUnreachable(opts.controllerUrl, 'startup was cancelled while enrolling');
    }
  }
}
