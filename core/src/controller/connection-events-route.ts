import type { FastifyInstance } from 'fastify';
import { rateLimited } from './abuse-limits';
import type { ControllerServices } from './controller-services';
import { signedNode } from './node-routes';
import { BODY_LIMITS, ROUTES, type ConnectionEventsRequest } from '../wire';
import { connectionEventsBody, emptyQuery } from './schemas';

/** Reported times further than this from the controller's clock are kept in details but not trusted for ordering, ms. */
const MAX_REPORTED_SKEW_MS = 10 * 60_000;

/**
 * registerConnectionEventsRoute: POST /v1/node/events, signed and rate-limited per node. Each event
 * the agent saw (a tunnel up or down, a path or relay switch, entering or leaving quarantine)
 * becomes one audit entry conn.<kind>, by node:<id>, about the peer; the entry's time is the
 * controller's, the agent's own is kept as reportedAt.
 */
export function registerConnectionEventsRoute(app: FastifyInstance, s: ControllerServices, onEvents?: (kinds: string[]) => void): void {
  app.post(
    ROUTES.nodeEvents,
    { bodyLimit: BODY_LIMITS.nodeEvents, preValidation: signedNode(s), ...rateLimited(s.trust.settings.limits, 'nodeEvents'), schema: { body: connectionEventsBody, querystring: emptyQuery } },
    async (request) => {
      const node = request.node!;
      const { events } = request.body as ConnectionEventsRequest;
      const now = s.clock();
      const names = new Map<string, string>();
      for (const e of events) {
        if (e.peer !== undefined && !names.has(e.peer)) names.set(e.peer, (await s.store.getNode(e.peer))?.name ?? e.peer);
      }
      for (const e of events) {
        await s.audit({
          at: now,
          action: `conn.${e.kind}`,
          actor: `node:${node.id}`,
          target: e.peer ?? null,
          details: {
            ...(e.details ?? {}),
            name: node.name,
            ...(e.peer !== undefined ? { peer: names.get(e.peer)! } : {}),
            reportedAt: e.at,
            ...(Math.abs(e.at - now) > MAX_REPORTED_SKEW_MS ? { clockSkewMs: e.at - now } : {}),
          },
        });
      }
      onEvents?.(events.map((e) => e.kind));
      return { ok: true, accepted: events.length };
    },
  );
}
