/** `trellis users add|list|remove`: the people who own nodes and auth keys. */
import { ROUTES, type RemoveUserResponse, type UserView } from '../../wire';
import { printJson } from '../command';
import { renderTable } from '../../text/text-table';
import { adminCommand, pathPart } from './admin-command';

export const usersAddCommand = adminCommand({
  name: 'users add',
  summary: 'add a user',
  positionals: ['<name>'],
  description: 'Adds a user. Nodes enrolled with `trellis keys create --user <name>` belong to it.',
  json: true,
  async run({ admin, args, json, io }) {
    const user = await admin.request<UserView>('POST', ROUTES.adminUsers, { name: args[0] });
    if (json) printJson(io, user);
    else io.stdout(`user ${user.name} added\n`);
    return 0;
  },
});

export const usersListCommand = adminCommand({
  name: 'users list',
  summary: 'list users and their groups',
  positionals: [],
  description: 'Lists users with the groups they belong to.',
  json: true,
  async run({ admin, json, io }) {
    const users = await admin.request<UserView[]>('GET', ROUTES.adminUsers);
    if (json) printJson(io, users);
    else if (users.length === 0) io.stdout('no users; add one with `trellis users add <name>`\n');
    else io.stdout(renderTable(['NAME', 'GROUPS', 'CREATED'], users.map((u) => [u.name, u.groups.join(',') || '-', new Date(u.createdAt).toISOString()])));
    return 0;
  },
});

export const usersRemoveCommand = adminCommand({
  name: 'users remove',
  summary: 'remove a user, revoking its nodes and keys',
  positionals: ['<name>'],
  description: "Removes a user: its nodes are revoked, its auth keys stop working, its group memberships go. Other users' nodes are not touched.",
  json: true,
  async run({ admin, args, json, io }) {
    const res = await admin.request<RemoveUserResponse>('DELETE', ROUTES.adminUser.replace(':name', pathPart(args[0]!)));
    if (json) printJson(io, res);
    else io.stdout(`user ${res.name} removed; revoked nodes: ${res.revokedNodes.join(', ') || 'none'}; revoked keys: ${res.revokedKeys.length}\n`);
    return 0;
  },
});
