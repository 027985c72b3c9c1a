/**
 * The topology's admin routes: `trellis topology [--node <name>]` (GET) and `trellis topology set`
 * (PUT, audited). A topology the admin sets is checked against the live nodes before anything is
 * stored; a refused one leaves the topology in force as it was.
 */
import type { FastifyInstance } from 'fastify';
import { errors } from '../errors';
import { ROUTES, type TopologyView } from '../wire';
import type { ControllerServices } from './controller-services';
import { topologyView } from './topology-view';

const topologyQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { node: { type: 'string', minLength: 1, maxLength: 128 } },
} as const;

/** The shape only: parseTopology checks the values, so its messages name what is wrong. */
const topologyBody = {
  type: 'object',
  additionalProperties: false,
  required: ['mode'],
  properties: { mode: {}, hubs: { type: 'array', maxItems: 256 }, direct: { type: 'array', maxItems: 256 }, hubForwarding: {} },
} as const;

export function registerTopologyAdminRoutes(scope: FastifyInstance, s: ControllerServices, limits: { bodyLimit: number }): void {
  scope.get(ROUTES.adminTopology, { ...limits, schema: { querystring: topologyQuery } }, async (request): Promise<TopologyView> => {
    const { node: name } = request.query as { node?: string };
    await s.streamer.settled();
    const mesh = s.streamer.meshInForce();
    if (!mesh) throw errors.notFound('topology (the controller has not built maps yet)');
    let node = null;
    if (name !== undefined) {
      const record = await s.store.findNode(name);
      node = record ? mesh.nodes.get(record.id) ?? null : null;
      if (!node) throw errors.notFound(`node "${name}" in the mesh`);
    }
    return topologyView(mesh, s.topology.topology.config, node);
  });

  scope.put(ROUTES.adminTopology, { ...limits, schema: { body: topologyBody, querystring: { type: 'object', additionalProperties: false, properties: {} } } }, async (request): Promise<TopologyView> => {
    await s.streamer.settled();
    const mesh = s.streamer.meshInForce();
    const infos = mesh ? mesh.order.filter((n) => n.cls >= 0).map((n) => n.info) : [];
    await s.topology.set(request.body, infos, 'admin', s.clock());
    await s.streamer.refresh('topology changed');
    return topologyView(s.streamer.meshInForce()!, s.topology.topology.config, null);
  });
}
