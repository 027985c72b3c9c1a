import type { FastifyInstance } from 'fastify';
import { errors } from '../errors';
import { parseRoutePrefix, isExitPrefix } from '../netmap/route-rules';
import { ROUTES, type RouteDecisionRequest, type RouteView } from '../wire';
import type { ControllerServices } from './controller-services';
import { emptyQuery, routeDecisionBody } from './schemas';

/** registerRouteAdminRoutes: `trellis routes` (list) and `trellis routes approve|reject` (audited). */
export function registerRouteAdminRoutes(scope: FastifyInstance, s: ControllerServices, limits: { bodyLimit: number }): void {
  scope.get(ROUTES.adminRoutes, { ...limits, schema: { querystring: emptyQuery } }, async () => {
    const names = new Map((await s.store.listNodes()).map((n) => [n.id, n.name]));
    const routes: RouteView[] = s.routes.view(names);
    return routes;
  });

  scope.post(ROUTES.adminRouteDecide, { ...limits, schema: { body: routeDecisionBody, querystring: emptyQuery } }, async (request) => {
    const body = request.body as RouteDecisionRequest;
    const node = await s.store.findNode(body.node);
    if (!node) throw errors.notFound(`node "${body.node}"`);
    const prefix = isExitPrefix(body.prefix.trim()) ? body.prefix.trim() : parseRoutePrefix(body.prefix, 'prefix');
    await s.routes.decide(node, prefix, body.decision, 'admin');
    const names = new Map((await s.store.listNodes()).map((n) => [n.id, n.name]));
    return s.routes.view(names).filter((r) => r.nodeId === node.id && r.prefix === prefix)[0];
  });
}
