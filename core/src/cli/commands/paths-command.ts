import type { CliIO } from '../cli-io';
import { printJson, type Command } from '../command';
import { parseCommandArgs } from '../parse-command-args';
import { renderPaths } from '../paths-view';
import { UsageError } from '../usage-error';
import { AGENT_TARGET_HELP, AGENT_TARGET_OPTIONS, agentTarget } from './agent-target';

const NAME = 'paths';

/** `trellis paths`: each peer's path in use, every candidate with its figures, and why the chosen one won. */
export const pathsCommand: Command = {
  name: NAME,
  summary: "show how a running agent reaches each peer: path in use, candidates, why",
  help: `Usage: trellis paths [--state-dir <dir> | --socket <path> | --node <name>] [--peer <name>] [--json]

For each peer: the path in use (direct, or the relay's name) and since when, which node of the
pair decides (the lower node id; the other adopts its choice), why the path won, the last
switch, and every candidate (each direct endpoint, each relay) with its RTT, loss, jitter, cost
and last answer. Then the relays this node keeps its address at, and its own relay.

Flags:
  --peer <name>  only this peer
  --json         print the paths as JSON (AgentPathsStatus)
  -h, --help     show this help

${AGENT_TARGET_HELP}`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs(NAME, {
      args: argv,
      options: { ...AGENT_TARGET_OPTIONS, peer: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    const status = await agentTarget(values, io.env, NAME).status();
    if (values.peer !== undefined && status.paths && !status.paths.peers.some((p) => p.peer === values.peer)) {
      throw new UsageError(`--peer "${values.peer}" is not a peer of ${status.node.name} (peers: ${status.paths.peers.map((p) => p.peer).join(', ') || 'none'})`, NAME);
    }
    if (values.json) {
      const paths = status.paths ?? null;
      printJson(io, values.peer !== undefined && paths ? { ...paths, peers: paths.peers.filter((p) => p.peer === values.peer) } : paths);
    } else io.stdout(renderPaths(status, Date.now(), values.peer));
    return 0;
  },
};
