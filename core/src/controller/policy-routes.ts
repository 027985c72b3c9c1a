import type { FastifyInstance } from 'fastify';
import type { AccessPrincipal } from '../api/policy';
import { errors } from '../errors';
import type { NodeRecord } from '../store/store';
import type { ControllerServices } from './controller-services';
import { isLiveNode } from './map-builder';
import { signedNode } from './node-routes';
import { BODY_LIMITS, POLICY_VERSION_HEADER, ROUTES, type ExplainRequest, type ExplainResponse, type PolicyPushRequest } from '../wire';
import { emptyQuery, noBody, explainBody, policyPushBody } from './schemas';

const ACTOR = 'admin';

/** registerPolicyAdminRoutes: the policy lifecycle, inside the admin scope. */
export function registerPolicyAdminRoutes(scope: FastifyInstance, s: ControllerServices): void {
  scope.get(ROUTES.adminPolicy, { bodyLimit: BODY_LIMITS.admin, schema: { querystring: emptyQuery } }, async () => s.policies.status());

  scope.post(ROUTES.adminPolicy, { bodyLimit: BODY_LIMITS.policy, schema: { body: policyPushBody, querystring: emptyQuery } }, async (request) => {
    const body = request.body as PolicyPushRequest;
    for (const path of Object.keys(body.files)) {
      if (path.split('/').some((seg) => seg === '..' || seg === '.')) throw errors.badRequest(`body.files path "${path}" must not contain . or .. segments`);
    }
    const source = body.source ?? 'pushed policy';
    try {
      return await s.policies.push({ files: body.files, source }, ACTOR);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      await s.audit({ action: 'policy.refused', actor: ACTOR, details: { source, code: e.code ?? null, message: String(e.message ?? err).slice(0, 2000) } });
      throw err;
    }
  });

  scope.post(
    ROUTES.adminPolicyRollback,
    {
      bodyLimit: BODY_LIMITS.admin,
      schema: { body: noBody, querystring: emptyQuery },
      preValidation: async (request) => {
        if (request.body === undefined) request.body = null;
      },
    },
    async () => s.policies.rollback(ACTOR),
  );

  scope.post(ROUTES.adminPolicyExplain, { bodyLimit: BODY_LIMITS.admin, schema: { body: explainBody, querystring: emptyQuery } }, async (request) => {
    const body = request.body as ExplainRequest;
    const engine = s.policies.requireEngine();
    const now = s.clock();
    const groups = await s.store.userGroups();
    const live = (await s.store.listNodes()).filter((n) => isLiveNode(n, now));
    const byName = (name: string) => live.find((n) => n.name === name || n.id === name) ?? null;
    const principal = (n: NodeRecord): AccessPrincipal => ({
      name: n.name,
      user: n.user,
      groups: n.user ? (groups[n.user] ?? []) : [],
      tags: n.tags,
      ip: n.ipv4,
      quarantined: n.posture !== null && n.posture.compliant === false,
    });
    const fromNode = byName(body.from);
    let src: AccessPrincipal;
    if (fromNode) src = principal(fromNode);
    else {
      const users = await s.store.listUsers();
      const user = users.find((u) => u.name === body.from);
      if (!user) throw errors.notFound(`node or user "${body.from}"`);
      src = { name: user.name, user: user.name, groups: user.groups, tags: [], ip: null, quarantined: false };
    }
    const toNode = byName(body.to);
    if (!toNode) throw errors.notFound(`live node "${body.to}"`);
    const proto = body.proto ?? 'tcp';
    const port = proto === 'icmp' ? null : (body.port ?? null);
    if (proto !== 'icmp' && port === null) throw errors.badRequest('body.port is required for tcp and udp');
    const answer = await engine.explain({ src, dst: principal(toNode), proto, port });
    const res: ExplainResponse = { ...answer, from: body.from, to: body.to, proto, port };
    return res;
  });
}

/** registerPolicyNodeRoutes: GET /v1/policy/bundle, signed, so agents evaluate the same version. */
export function registerPolicyNodeRoutes(app: FastifyInstance, s: ControllerServices): void {
  app.get(ROUTES.policyBundle, { bodyLimit: 1024, preValidation: signedNode(s), schema: { querystring: emptyQuery } }, async (_request, reply) => {
    const active = s.policies.active();
    if (!active) throw errors.notFound('active policy (push one with `trellis policy push <dir>`)');
    return reply.type('application/gzip').header(POLICY_VERSION_HEADER, active.version).header('cache-control', 'no-store').send(active.bundle);
  });
}
