/**
 * runCli dispatches `trellis <command> [subcommand] [flags]` and turns every outcome into an exit
 * code: 0 done, 1 runtime failure (one line with the error code), 2 wrong usage (one line with a
 * pointer to the command's --help).
 */
import { TrellisError } from '../errors';
import type { CliIO } from './cli-io';
import type { Command } from './command';
import { alertsCommand } from './commands/alerts-command';
import { controllerCommand } from './commands/controller-command';
import { controllerInitCommand } from './commands/controller-init-command';
import { dashboardsPushCommand } from './commands/dashboards-push-command';
import { downCommand } from './commands/down-command';
import { keysCreateCommand } from './commands/keys-create-command';
import { keysListCommand } from './commands/keys-list-command';
import { keysRevokeCommand } from './commands/keys-revoke-command';
import { auditCommand, auditVerifyCommand } from './commands/audit-commands';
import { keysRotateCommand } from './commands/keys-rotate-command';
import { nodesExpireCommand } from './commands/nodes-expire-command';
import { labAddCommand } from './commands/lab-add-command';
import { labDemoCommand } from './commands/lab-demo-command';
import { labDownCommand } from './commands/lab-down-command';
import { labExecCommand } from './commands/lab-exec-command';
import { labImpairCommand } from './commands/lab-impair-command';
import { labLinkCommand } from './commands/lab-link-command';
import { labRoamCommand } from './commands/lab-roam-command';
import { labStatusCommand } from './commands/lab-status-command';
import { labUpCommand } from './commands/lab-up-command';
import { stunCommand } from './commands/stun-command';
import { nodesCommand } from './commands/nodes-command';
import { nodesRevokeCommand } from './commands/nodes-revoke-command';
import {
  groupsAddCommand,
  groupsAddMemberCommand,
  groupsListCommand,
  groupsRemoveCommand,
  groupsRemoveMemberCommand,
} from './commands/groups-commands';
import { nodesApproveCommand } from './commands/nodes-approve-command';
import { policyExplainCommand, policyPushCommand, policyRollbackCommand, policyShowCommand } from './commands/policy-commands';
import { policyCheckCommand, policyTestCommand } from './commands/policy-opa-commands';
import { usersAddCommand, usersListCommand, usersRemoveCommand } from './commands/users-commands';
import { statusCommand } from './commands/status-command';
import { pathsCommand } from './commands/paths-command';
import { upCommand } from './commands/up-command';
import { routesApproveCommand, routesCommand, routesRejectCommand } from './commands/routes-commands';
import { topologyCommand, topologySetCommand } from './commands/topology-commands';
import { coreVersion } from './commands/version-command';
import { UsageError } from './usage-error';

/** Every command, by the words that name it. Groups (keys, lab) list their subcommands. */
export const COMMANDS: Command[] = [
  controllerCommand,
  controllerInitCommand,
  keysCreateCommand,
  keysListCommand,
  keysRevokeCommand,
  keysRotateCommand,
  nodesCommand,
  nodesRevokeCommand,
  nodesApproveCommand,
  nodesExpireCommand,
  routesCommand,
  routesApproveCommand,
  routesRejectCommand,
  topologyCommand,
  topologySetCommand,
  usersAddCommand,
  usersListCommand,
  usersRemoveCommand,
  groupsAddCommand,
  groupsListCommand,
  groupsRemoveCommand,
  groupsAddMemberCommand,
  groupsRemoveMemberCommand,
  policyPushCommand,
  policyRollbackCommand,
  policyExplainCommand,
  policyShowCommand,
  policyTestCommand,
  policyCheckCommand,
  upCommand,
  downCommand,
  statusCommand,
  pathsCommand,
  stunCommand,
  labUpCommand,
  labDownCommand,
  labStatusCommand,
  labAddCommand,
  labExecCommand,
  labImpairCommand,
  labRoamCommand,
  labLinkCommand,
  labDemoCommand,
  dashboardsPushCommand,
  alertsCommand,
  auditCommand,
  auditVerifyCommand,
];

const GROUPS: Record<string, string> = {
  keys: 'manage auth keys, and rotate nodes\' WireGuard keys',
  audit: 'the hash-chained audit log: read, follow, verify',
  users: 'manage users (owners of nodes and keys)',
  groups: 'manage groups of users, for access rules',
  policy: 'the access and posture policy: push, rollback, explain; test and check a folder locally with opa',
  lab: 'a local mesh in network namespaces',
  dashboards: 'generated Grafana dashboards and alert rules',
};

export function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `trellis ${coreVersion()}: WireGuard mesh VPN toolkit

Usage: trellis <command> [flags]

Commands:
${lines.join('\n')}

  help [command]  show help;  --version  print the version

Run \`trellis <command> --help\` for a command's flags.
`;
}

function groupHelp(group: string): string {
  const cmds = COMMANDS.filter((c) => c.name.startsWith(`${group} `));
  const width = Math.max(...cmds.map((c) => c.name.length));
  return `Usage: trellis ${group} <subcommand> [flags]   (${GROUPS[group]})

Subcommands:
${cmds.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}
`;
}

/** findCommand returns the command named by the first words of argv, and the remaining argv. */
export function findCommand(argv: string[]): { command: Command; rest: string[] } | null {
  const two = argv.slice(0, 2).join(' ');
  const twoWord = COMMANDS.find((c) => c.name === two);
  if (twoWord) return { command: twoWord, rest: argv.slice(2) };
  const one = COMMANDS.find((c) => c.name === argv[0]);
  if (one) return { command: one, rest: argv.slice(1) };
  return null;
}

export async function runCli(argv: string[], io: CliIO): Promise<number> {
  let commandName: string | undefined;
  try {
    const [first, second] = argv;
    if (first === undefined) {
      io.stderr(topHelp());
      return 2;
    }
    if (first === '-h' || first === '--help') {
      io.stdout(topHelp());
      return 0;
    }
    if (first === '--version' || first === '-v' || first === 'version') {
      io.stdout(`trellis ${coreVersion()}\n`);
      return 0;
    }
    if (first === 'help') {
      const target = argv.slice(1);
      if (target.length === 0) {
        io.stdout(topHelp());
        return 0;
      }
      const found = findCommand(target);
      if (found) {
        io.stdout(found.command.help);
        return 0;
      }
      if (target[0]! in GROUPS) {
        io.stdout(groupHelp(target[0]!));
        return 0;
      }
      throw new UsageError(`unknown command "${target.join(' ')}"`);
    }
    const found = findCommand(argv);
    if (!found) {
      if (first in GROUPS) {
        if (second === undefined) {
          io.stderr(groupHelp(first));
          return 2;
        }
        if (second === '-h' || second === '--help') {
          io.stdout(groupHelp(first));
          return 0;
        }
        throw new UsageError(`unknown subcommand "${first} ${second}"`, first);
      }
      throw new UsageError(`unknown command "${first}"`);
    }
    commandName = found.command.name;
    return await found.command.run(found.rest, io);
  } catch (err) {
    return reportError(err, io, commandName);
  }
}

/** reportError prints an error as one line and picks the exit code; stacks only with TRELLIS_DEBUG. */
export function reportError(err: unknown, io: CliIO, commandName?: string): number {
  if (err instanceof UsageError) {
    const cmd = err.command ?? commandName;
    io.stderr(`trellis: ${err.message}; see trellis ${cmd ? `${cmd} --help` : 'help'}\n`);
    return 2;
  }
  const debug = Boolean(io.env.TRELLIS_DEBUG);
  if (err instanceof TrellisError) {
    io.stderr(`trellis: ${err.message} (${err.code})\n`);
  } else if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    io.stderr(`trellis: ${err.message}${code ? ` (${code})` : ''}\n`);
  } else {
    io.stderr(`trellis: ${String(err)}\n`);
  }
  if (debug && err instanceof Error && err.stack) io.stderr(err.stack + '\n');
  return 1;
}
