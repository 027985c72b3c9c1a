import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requireAdmin } from './admin-token';
import { errors } from '../errors';
import { hashSecret } from '../store/secret-hash';
import { newAuthKey } from './auth-key-format';
import type { ControllerServices } from './controller-services';
import { registerIdentityRoutes } from './identity-routes';
import { registerKeyAdminRoutes } from './node-key-routes';
import { toAuthKeyView, toNodeView } from './node-view';
import { registerPolicyAdminRoutes } from './policy-routes';
import { BODY_LIMITS, ROUTES, type AuthKeyView, type CreateKeyRequest, type CreateKeyResponse, type NodeView } from '../wire';
import { registerAuditRoutes } from './audit-routes';
import { registerRouteAdminRoutes } from './route-admin-routes';
import { registerTopologyAdminRoutes } from './topology-admin-routes';
import { peerCounts, nodeTopology } from './topology-view';
import { activeHubOf } from './route-plan';
import { createKeyBody, emptyQuery, keyIdParams, revokeBody, revokeParams } from './schemas';

const ACTOR = 'admin';
const DEFAULT_KEY_TTL_S = 3600;

/**
 * registerAdminRoutes: the Bearer-token routes behind `trellis keys` and `trellis nodes`. The token is
 * checked before the body is read; every action, and every refused token, is audited.
 */
export function registerAdminRoutes(app: FastifyInstance, s: ControllerServices): void {
  void app.register(async (scope) => {
    scope.addHook('onRequest', requireAdmin(s));
    const limits = { bodyLimit: BODY_LIMITS.admin };

    const defaultBody = async (request: FastifyRequest) => {
      if (request.body === undefined || request.body === null) request.body = {};
    };
    scope.post(ROUTES.adminKeys, { ...limits, preValidation: defaultBody, schema: { body: createKeyBody, querystring: emptyQuery } }, async (request) => {
      const body = request.body as CreateKeyRequest;
      const maxS = Math.floor(s.trust.settings.maxAuthKeyTtlMs / 1000);
      if ((body.ttlSeconds ?? DEFAULT_KEY_TTL_S) > maxS) throw errors.authKeyTtlTooLong(body.ttlSeconds ?? DEFAULT_KEY_TTL_S, maxS);
      const now = s.clock();
      const { id, secret, key } = newAuthKey();
      const record = await s.store.createAuthKey(
        {
          id,
          secretHash: hashSecret(secret),
          tags: body.tags ?? [],
          user: body.user ?? null,
          reusable: body.reusable ?? false,
          createdAt: now,
          expiresAt: now + (body.ttlSeconds ?? DEFAULT_KEY_TTL_S) * 1000,
          nodeTtlMs: body.nodeTtlSeconds == null ? null : body.nodeTtlSeconds * 1000,
        },
        {
          at: now,
          action: 'admin.key.created',
          actor: ACTOR,
          target: id,
          details: { tags: body.tags ?? [], user: body.user ?? null, reusable: body.reusable ?? false, ttlSeconds: body.ttlSeconds ?? DEFAULT_KEY_TTL_S, nodeTtlSeconds: body.nodeTtlSeconds ?? null },
        },
      );
      const res: CreateKeyResponse = { ...toAuthKeyView(record), key };
      return res;
    });

    scope.get(ROUTES.adminKeys, { ...limits, schema: { querystring: emptyQuery } }, async () => {
      const keys: AuthKeyView[] = (await s.store.listAuthKeys()).map(toAuthKeyView);
      await s.audit({ action: 'admin.keys.listed', actor: ACTOR, details: { count: keys.length } });
      return keys;
    });

    scope.get(ROUTES.adminNodes, { ...limits, schema: { querystring: emptyQuery } }, async () => {
      const mesh = s.streamer.meshInForce();
      const counts = mesh ? peerCounts(mesh) : null;
      const hub = mesh ? activeHubOf(mesh) : null;
      const nodes: NodeView[] = (await s.store.listNodes()).map((n) => {
        const view = toNodeView(n, s.presence, s.keys.policy);
        const m = mesh?.nodes.get(n.id);
        if (m && counts) view.topology = nodeTopology(m, counts, hub);
        return view;
      });
      await s.audit({ action: 'admin.nodes.listed', actor: ACTOR, details: { count: nodes.length } });
      return nodes;
    });

    scope.post(
      ROUTES.adminRevoke,
      {
        ...limits,
        schema: { params: revokeParams, body: revokeBody, querystring: emptyQuery },
        preValidation: async (request: FastifyRequest) => {
          if (request.body === undefined) request.body = null;
        },
      },
      async (request) => {
        const { name } = request.params as { name: string };
        const reason = (request.body as { reason?: string } | null)?.reason ?? null;
        const found = await s.store.findNode(name);
        if (!found) throw errors.notFound(`node "${name}"`);
        const now = s.clock();
        const node = await s.store.revokeNode(found.id, now, {
          at: now,
          action: 'node.revoked',
          actor: ACTOR,
          target: found.id,
          details: { name: found.name, reason, alreadyRevoked: found.revoked },
        });
        s.streamer.closeStreams(node.id);
        s.presence.forget(node.id);
        if (!found.revoked) {
          s.streamer.nodeChanged(node.id, `revoke ${node.name}`);
          await s.nodeEvent('revoked', node, { reason });
        }
        return toNodeView(node, s.presence, s.keys.policy);
      },
    );

    scope.post(
      ROUTES.adminKeyRevoke,
      {
        ...limits,
        schema: { params: keyIdParams, body: revokeBody, querystring: emptyQuery },
        preValidation: async (request: FastifyRequest) => {
          if (request.body === undefined) request.body = null;
        },
      },
      async (request) => {
        const { id } = request.params as { id: string };
        const reason = (request.body as { reason?: string } | null)?.reason ?? null;
        const key = await s.store.revokeAuthKey(id, { at: s.clock(), action: 'admin.key.revoked', actor: ACTOR, target: id, details: { reason } });
        return toAuthKeyView(key);
      },
    );

    registerAuditRoutes(scope, s);
    registerIdentityRoutes(scope, s);
    registerKeyAdminRoutes(scope, s);
    registerPolicyAdminRoutes(scope, s);
    registerRouteAdminRoutes(scope, s, limits);
    registerTopologyAdminRoutes(scope, s, limits);
  });
}
