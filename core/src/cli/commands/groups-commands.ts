/** `trellis groups add|list|remove|add-member|remove-member`: groups of users, for access rules (group:NAME). */
import { ROUTES, type GroupView } from '../../wire';
import type { CliIO } from '../cli-io';
import { printJson } from '../command';
import { renderTable } from '../../text/text-table';
import { adminCommand, pathPart } from './admin-command';

const show = (io: CliIO, json: boolean, g: GroupView, what: string) => {
  if (json) printJson(io, g);
  else io.stdout(`${what}; members: ${g.members.join(', ') || 'none'}\n`);
};

export const groupsAddCommand = adminCommand({
  name: 'groups add',
  summary: 'add a group',
  positionals: ['<name>'],
  description: 'Adds a group (lower-case letters, digits, - and _). Access rules name it as group:<name>.',
  json: true,
  async run({ admin, args, json, io }) {
    const g = await admin.request<GroupView>('POST', ROUTES.adminGroups, { name: args[0] });
    show(io, json, g, `group ${g.name} added`);
    return 0;
  },
});

export const groupsListCommand = adminCommand({
  name: 'groups list',
  summary: 'list groups and their members',
  positionals: [],
  description: 'Lists groups with their members.',
  json: true,
  async run({ admin, json, io }) {
    const groups = await admin.request<GroupView[]>('GET', ROUTES.adminGroups);
    if (json) printJson(io, groups);
    else if (groups.length === 0) io.stdout('no groups; add one with `trellis groups add <name>`\n');
    else io.stdout(renderTable(['NAME', 'MEMBERS'], groups.map((g) => [g.name, g.members.join(',') || '-'])));
    return 0;
  },
});

export const groupsRemoveCommand = adminCommand({
  name: 'groups remove',
  summary: 'remove a group',
  positionals: ['<name>'],
  description: 'Removes a group and its memberships; maps are rebuilt, since access rules may name it.',
  json: true,
  async run({ admin, args, json, io }) {
    const g = await admin.request<GroupView>('DELETE', ROUTES.adminGroup.replace(':name', pathPart(args[0]!)));
    show(io, json, g, `group ${g.name} removed`);
    return 0;
  },
});

export const groupsAddMemberCommand = adminCommand({
  name: 'groups add-member',
  summary: 'add a user to a group',
  positionals: ['<group>', '<user>'],
  description: 'Adds an existing user to an existing group.',
  json: true,
  async run({ admin, args, json, io }) {
    const g = await admin.request<GroupView>('POST', ROUTES.adminGroupMembers.replace(':name', pathPart(args[0]!)), { user: args[1] });
    show(io, json, g, `user ${args[1]} added to group ${g.name}`);
    return 0;
  },
});

export const groupsRemoveMemberCommand = adminCommand({
  name: 'groups remove-member',
  summary: 'remove a user from a group',
  positionals: ['<group>', '<user>'],
  description: 'Removes a user from a group.',
  json: true,
  async run({ admin, args, json, io }) {
    const g = await admin.request<GroupView>(
      'DELETE',
      ROUTES.adminGroupMember.replace(':name', pathPart(args[0]!)).replace(':user', pathPart(args[1]!)),
    );
    show(io, json, g, `user ${args[1]} removed from group ${g.name}`);
    return 0;
  },
});
