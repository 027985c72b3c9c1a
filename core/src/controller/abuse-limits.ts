/**
 * Abuse limits on the HTTP app: per-source rate limits on the routes anyone may call
 * (@fastify/rate-limit: enrolment, console login, health and the OpenAPI document), a per-node
 * limit on connection event reports, and a block on any source that failed authentication too
 * often in its window (AuthFailureLog). Every refusal is 429 with Retry-After and the
 * catalogued error body, and is counted into the source's failure window.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest, RouteShorthandOptions } from 'fastify';
import { errors } from '../errors';
import type { AuthFailureLog } from './auth-failure-log';
import type { AbuseLimits } from './trust-settings';

const MINUTE = 60_000;

/** routeOf names a request's route for counters and the audit (the pattern, not the raw URL). */
export const routeOf = (request: FastifyRequest) => `${request.method} ${request.routeOptions.url ?? 'unknown'}`;

/** installAbuseLimits registers the rate limiter and the failed-authentication block; await it before adding routes. */
export async function installAbuseLimits(app: FastifyInstance, failures: AuthFailureLog): Promise<void> {
  app.addHook('onRequest', async (request, reply) => {
    const ms = failures.blockedFor(request.ip);
    if (ms <= 0) return;
    const s = Math.max(1, Math.ceil(ms / 1000));
    failures.rateLimited(request.ip, routeOf(request));
    void reply.header('retry-after', String(s));
    throw errors.rateLimited(s);
  });
  await app.register(rateLimit, {
    global: false,
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    addHeaders: { 'x-ratelimit-limit': true, 'x-ratelimit-remaining': true, 'x-ratelimit-reset': true, 'retry-after': true },
    onExceeded: (request) => failures.rateLimited(request.ip, routeOf(request)),
    errorResponseBuilder: (_request, context) => errors.rateLimited(Math.max(1, Math.ceil(context.ttl / 1000))),
  });
}

/** The rate limit kinds routes pick from. */
export type RateLimitKind = 'enroll' | 'consoleLogin' | 'unauthenticated' | 'nodeEvents';

/**
 * perSource is a route's rate limit by source address; nodeEvents is keyed by the verified node
 * instead (checked after the signature, so nobody can spend another node's allowance).
 */
export function rateLimited(limits: AbuseLimits, kind: RateLimitKind): Pick<RouteShorthandOptions, 'config'> {
  switch (kind) {
    case 'enroll':
      return { config: { rateLimit: { max: limits.enrollPerMinute, timeWindow: MINUTE } } };
    case 'consoleLogin':
      return { config: { rateLimit: { max: limits.consoleLoginPerMinute, timeWindow: MINUTE } } };
    case 'unauthenticated':
      return { config: { rateLimit: { max: limits.unauthenticatedPerMinute, timeWindow: MINUTE } } };
    case 'nodeEvents':
      return {
        config: {
          rateLimit: { max: limits.nodeEventsPerMinute, timeWindow: MINUTE, hook: 'preHandler', keyGenerator: (request: FastifyRequest) => `node:${request.node?.id ?? request.ip}` },
        },
      };
  }
}
