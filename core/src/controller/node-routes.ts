import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Facts, PostureDecision } from '../api/hooks';
import type { ControllerServices } from './controller-services';
import { canonicalEndpoints } from './enroll-route';
import { BODY_LIMITS, ROUTES, type EndpointsRequest, type FactsRequest } from '../wire';
import { emptyQuery, endpointsBody, factsBody } from './schemas';

/** signedNode is the preValidation hook of every node route: it verifies the request signature. */
export function signedNode(s: ControllerServices) {
  return async (request: FastifyRequest): Promise<void> => {
    request.node = await s.nodeAuth.verify({
      method: request.method,
      url: request.url,
      headers: request.headers,
      rawBody: request.rawBody ?? Buffer.alloc(0),
      ip: request.ip,
    });
  };
}

/** registerNodeRoutes: the signed POST routes a node uses to report endpoints and facts. */
export function registerNodeRoutes(app: FastifyInstance, s: ControllerServices): void {
  const preValidation = signedNode(s);

  app.post(ROUTES.endpoints, { bodyLimit: BODY_LIMITS.endpoints, preValidation, schema: { body: endpointsBody, querystring: emptyQuery } }, async (request) => {
    const node = request.node!;
    const endpoints = canonicalEndpoints((request.body as EndpointsRequest).endpoints, 'body.endpoints');
    if (await s.store.setEndpoints(node.id, endpoints)) s.streamer.nodeChanged(node.id, `endpoints of ${node.name}`);
    return { ok: true };
  });

  app.post(ROUTES.facts, { bodyLimit: BODY_LIMITS.facts, preValidation, schema: { body: factsBody, querystring: emptyQuery } }, async (request) => {
    const node = request.node!;
    const body = request.body as FactsRequest;
    // The key age posture checks is the controller's record of the key, not what the node says.
    const facts: Facts = s.keys.withKeyAge(node, body.facts);
    const agentPosture: PostureDecision | null = body.posture ?? null;
    // The controller decides with the active policy version; the agent's own decision is only recorded.
    const { posture, transition } = await s.posture.decide(node, facts, agentPosture, `node:${node.id}`);
    await s.nodeEvent('facts', node, { compliant: posture?.compliant ?? null, transition });
    return { ok: true, posture };
  });
}
