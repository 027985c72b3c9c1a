import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControllerServices } from './controller-services';
import { signedNode } from './node-routes';
import { toNodeView } from './node-view';
import {
  BODY_LIMITS,
  ROUTES,
  type ExpireNodeRequest,
  type IdentityRenewRequest,
  type NodeKeyState,
  type RotateKeysRequest,
  type RotateKeysResponse,
  type WgKeyLeaseResponse,
  type WgKeyRotateRequest,
} from '../wire';
import { emptyQuery, expireBody, identityRenewBody, revokeParams, rotateKeysBody, wgKeyRotateBody } from './schemas';

/**
 * registerNodeKeyRoutes: the signed routes a node uses for its own keys. GET tells it what the
 * controller holds (after a crash mid-rotation, the agent picks the private key that matches);
 * POSTs register a rotated WireGuard key or a renewed identity key.
 */
export function registerNodeKeyRoutes(app: FastifyInstance, s: ControllerServices): void {
  const preValidation = signedNode(s);
  const limits = { bodyLimit: BODY_LIMITS.keys, preValidation };

  app.get(ROUTES.nodeKeys, { ...limits, schema: { querystring: emptyQuery } }, async (request): Promise<NodeKeyState> => s.keys.stateOf(request.node!));

  app.post(ROUTES.nodeWgKey, { ...limits, schema: { body: wgKeyRotateBody, querystring: emptyQuery } }, async (request): Promise<NodeKeyState> => {
    const body = request.body as WgKeyRotateRequest;
    return s.keys.rotateWgKey(request.node!, body.wgKey, body.reason);
  });

  app.post(ROUTES.nodeWgKeyLease, { ...limits, preValidation: [preValidation, nullBody], schema: { body: { type: 'null' }, querystring: emptyQuery } }, async (request): Promise<WgKeyLeaseResponse> =>
    s.keys.lease(request.node!),
  );

  app.post(ROUTES.nodeIdentity, { ...limits, schema: { body: identityRenewBody, querystring: emptyQuery } }, async (request): Promise<NodeKeyState> => {
    const body = request.body as IdentityRenewRequest;
    return s.keys.renewIdentity(request.node!, body.identityKey, body.proof);
  });
}

const nullBody = async (request: FastifyRequest) => {
  if (request.body === undefined) request.body = null;
};

/**
 * registerKeyAdminRoutes: `trellis keys rotate` and `trellis nodes expire`, behind the admin token
 * (the caller registers them inside the admin scope). An unknown node is 404, a revoked or expired
 * one 409, a malformed or past time 400; none of them changes anything.
 */
export function registerKeyAdminRoutes(scope: FastifyInstance, s: ControllerServices): void {
  const limits = { bodyLimit: BODY_LIMITS.admin, preValidation: nullBody };

  scope.post(ROUTES.adminRotateKeys, { ...limits, schema: { body: rotateKeysBody, querystring: emptyQuery } }, async (request): Promise<RotateKeysResponse> => {
    const name = (request.body as RotateKeysRequest | null)?.node ?? null;
    const asked = await s.keys.requestRotation(name);
    return { requested: asked.map(({ node, online }) => ({ name: node.name, online, rotateRequestedAt: node.rotateRequestedAt ?? 0 })) };
  });

  scope.post(ROUTES.adminExpire, { ...limits, schema: { params: revokeParams, body: expireBody, querystring: emptyQuery } }, async (request) => {
    const { name } = request.params as { name: string };
    const at = (request.body as ExpireNodeRequest | null)?.at;
    return toNodeView(await s.keys.expire(name, at), s.presence, s.keys.policy);
  });
}
