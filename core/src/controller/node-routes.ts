import type { FastifyInstance, FastifyRequest, preParsingAsyncHookHandler } from 'fastify';
import type { Facts, PostureDecision } from '../api/hooks';
import type { ControllerServices } from './controller-services';
import { reportedCandidates } from './candidate-report';
import { BODY_LIMITS, ROUTES, type EndpointsRequest, type FactsRequest, type ExitUseRequest, type RoutesRequest, type RoutesResponse } from '../wire';
import { emptyQuery, endpointsBody, exitUseBody, factsBody, routesBody } from './schemas';

const SIGNED = Symbol('trellis.signedNode');
type SignedHook = ((request: FastifyRequest) => Promise<void>) & { [SIGNED]: ControllerServices };

const parts = (request: FastifyRequest) => ({ method: request.method, url: request.url, headers: request.headers, ip: request.ip, route: request.routeOptions.url });

/**
 * signedNode is the preValidation hook of every node route: it verifies the request signature
 * (unless the body parser already did). installSignedRoutes adds the checks that run before the
 * body is read to every route that uses it.
 */
export function signedNode(s: ControllerServices): SignedHook {
  const hook = async (request: FastifyRequest): Promise<void> => {
    if (request.node) return;
    request.node = await s.nodeAuth.verify({ ...parts(request), rawBody: request.rawBody ?? Buffer.alloc(0) });
  };
  return Object.assign(hook, { [SIGNED]: s });
}

/**
 * installSignedRoutes makes every route whose preValidation is signedNode check the signature
 * headers, timestamp and node before its body is read (preParsing), and the signature over the raw
 * bytes before they are parsed as JSON. Add it before the routes.
 */
export function installSignedRoutes(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const pre = [route.preValidation].flat().filter(Boolean) as Array<Partial<SignedHook>>;
    const s = pre.find((h) => h[SIGNED])?.[SIGNED];
    if (!s) return;
    const precheck: preParsingAsyncHookHandler = async (request, _reply, payload) => {
      await s.nodeAuth.precheck(parts(request));
      request.beforeParse = async (raw) => {
        request.node = await s.nodeAuth.verify({ ...parts(request), rawBody: raw });
      };
      return payload;
    };
    route.preParsing = [...([route.preParsing].flat().filter(Boolean) as preParsingAsyncHookHandler[]), precheck];
  });
}

/** registerNodeRoutes: the signed POST routes a node uses to report endpoints and facts. */
export function registerNodeRoutes(app: FastifyInstance, s: ControllerServices): void {
  const preValidation = signedNode(s);

  app.post(ROUTES.endpoints, { bodyLimit: BODY_LIMITS.endpoints, preValidation, schema: { body: endpointsBody, querystring: emptyQuery } }, async (request) => {
    const node = request.node!;
    const body = request.body as EndpointsRequest;
    // Checked whole before anything is stored: a malformed candidate changes nothing, the relay flag neither.
    const { endpoints, candidates } = reportedCandidates(body, node, s.clock());
    const endpointsChanged = await s.store.setEndpoints(node.id, endpoints, candidates);
    const relayChanged = body.relay !== undefined && (await s.store.setRelay(node.id, body.relay));
    if (relayChanged) {
      const relayPort = body.relay?.port ?? null;
      await s.audit({ action: 'node.relay', actor: `node:${node.id}`, target: node.id, details: { name: node.name, relayPort } });
      await s.nodeEvent('relay-changed', node, { relayPort });
    }
    if (endpointsChanged || relayChanged) s.streamer.nodeChanged(node.id, `${endpointsChanged ? 'endpoints' : 'relay flag'} of ${node.name}`);
    return { ok: true };
  });

  app.post(ROUTES.nodeRoutes, { bodyLimit: BODY_LIMITS.routes, preValidation, schema: { body: routesBody, querystring: emptyQuery } }, async (request) => {
    const node = request.node!;
    const stored = await s.routes.advertise(node, request.body as RoutesRequest, s.store.overlay);
    const res: RoutesResponse = { routes: stored.filter((r) => r.advertised).map((r) => ({ prefix: r.prefix, kind: r.kind, status: r.status })) };
    return res;
  });

  app.post(ROUTES.nodeExit, { bodyLimit: BODY_LIMITS.exit, preValidation, schema: { body: exitUseBody, querystring: emptyQuery } }, async (request) => {
    const node = request.node!;
    const body = request.body as ExitUseRequest;
    if (s.routes.exitUse.set(node.id, body, s.clock())) s.log.info({ node: node.name, exitNode: body.inUse, preferred: body.preferred, problem: body.problem }, 'exit node use reported');
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
