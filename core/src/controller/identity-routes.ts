import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errors } from '../errors';
import type { GroupRecord, UserRecord } from '../store/store';
import type { ControllerServices } from './controller-services';
import { isLiveNode } from './map-builder';
import { toNodeView } from './node-view';
import { BODY_LIMITS, ROUTES, type GroupView, type RemoveUserResponse, type UserView } from '../wire';
import { emptyQuery, groupBody, noBody, groupParams, memberBody, memberParams, revokeParams, userBody, userParams } from './schemas';

const ACTOR = 'admin';
const userView = (u: UserRecord): UserView => ({ name: u.name, groups: u.groups, createdAt: u.createdAt });
const groupView = (g: GroupRecord): GroupView => ({ name: g.name, members: g.members, createdAt: g.createdAt });

/**
 * registerIdentityRoutes: users, groups and device approval, behind the admin token (the caller
 * registers them inside the admin scope). Group changes rebuild maps, since policies match groups.
 */
export function registerIdentityRoutes(scope: FastifyInstance, s: ControllerServices): void {
  const limits = { bodyLimit: BODY_LIMITS.admin };

  scope.get(ROUTES.adminUsers, { ...limits, schema: { querystring: emptyQuery } }, async () => (await s.store.listUsers()).map(userView));

  scope.post(ROUTES.adminUsers, { ...limits, schema: { body: userBody, querystring: emptyQuery } }, async (request) => {
    const { name } = request.body as { name: string };
    const now = s.clock();
    return userView(await s.store.addUser(name, now, { at: now, action: 'user.added', actor: ACTOR, target: name }));
  });

  scope.delete(ROUTES.adminUser, { ...limits, schema: { params: userParams, querystring: emptyQuery } }, async (request) => {
    const { name } = request.params as { name: string };
    const now = s.clock();
    const result = await s.store.removeUser(name, now, { at: now, action: 'user.removed', actor: ACTOR, target: name });
    for (const node of result.revokedNodes) {
      s.streamer.closeStreams(node.id);
      s.presence.forget(node.id);
    }
    s.streamer.meshChanged(`user ${name} removed`);
    for (const node of result.revokedNodes) await s.nodeEvent('revoked', node, { reason: `user ${name} removed` });
    const res: RemoveUserResponse = { name, revokedNodes: result.revokedNodes.map((n) => n.name), revokedKeys: result.revokedKeys };
    return res;
  });

  scope.get(ROUTES.adminGroups, { ...limits, schema: { querystring: emptyQuery } }, async () => (await s.store.listGroups()).map(groupView));

  scope.post(ROUTES.adminGroups, { ...limits, schema: { body: groupBody, querystring: emptyQuery } }, async (request) => {
    const { name } = request.body as { name: string };
    const now = s.clock();
    return groupView(await s.store.addGroup(name, now, { at: now, action: 'group.added', actor: ACTOR, target: name }));
  });

  scope.delete(ROUTES.adminGroup, { ...limits, schema: { params: groupParams, querystring: emptyQuery } }, async (request) => {
    const { name } = request.params as { name: string };
    const group = await s.store.removeGroup(name, { at: s.clock(), action: 'group.removed', actor: ACTOR, target: name });
    s.streamer.meshChanged(`group ${name} removed`);
    return groupView(group);
  });

  scope.post(ROUTES.adminGroupMembers, { ...limits, schema: { params: groupParams, body: memberBody, querystring: emptyQuery } }, async (request) => {
    const { name } = request.params as { name: string };
    const { user } = request.body as { user: string };
    const now = s.clock();
    const group = await s.store.addGroupMember(name, user, now, { at: now, action: 'group.member.added', actor: ACTOR, target: name, details: { user } });
    s.streamer.meshChanged(`group ${name} +${user}`);
    return groupView(group);
  });

  scope.delete(ROUTES.adminGroupMember, { ...limits, schema: { params: memberParams, querystring: emptyQuery } }, async (request) => {
    const { name, user } = request.params as { name: string; user: string };
    const group = await s.store.removeGroupMember(name, user, { at: s.clock(), action: 'group.member.removed', actor: ACTOR, target: name, details: { user } });
    s.streamer.meshChanged(`group ${name} -${user}`);
    return groupView(group);
  });

  scope.post(
    ROUTES.adminApprove,
    {
      ...limits,
      schema: { params: revokeParams, body: noBody, querystring: emptyQuery },
      preValidation: async (request: FastifyRequest) => {
        if (request.body === undefined) request.body = null;
      },
    },
    async (request) => {
      const { name } = request.params as { name: string };
      const found = await s.store.findNode(name);
      const now = s.clock();
      if (!found || !isLiveNode(found, now)) throw errors.notFound(`live node "${name}"`);
      const node = await s.store.approveNode(found.id, now, {
        at: now,
        action: 'node.approved',
        actor: ACTOR,
        target: found.id,
        details: { name: found.name, alreadyApproved: found.approved !== false },
      });
      if (found.approved === false) {
        s.streamer.nodeChanged(node.id, `approve ${node.name}`);
        await s.streamer.settled();
      }
      return toNodeView(node, s.presence, s.keys.policy);
    },
  );
}
