import { Lab } from '../../lab/lab';
import { labDir } from '../../lab/lab-state';
import { watchTunnels, type TunnelUp } from '../../lab/tunnel-watch';
import { waitForAbort, type CliIO } from '../cli-io';
import type { Command } from '../command';
import { parseDurationInRange } from '../flag-values';
import { formatMicros } from '../../text/human-format';
import { parseCommandArgs } from '../parse-command-args';
import { renderPeerTable } from '../status-view';
import { LAB_UP_OPTIONS, labUpOptions, progressLine } from './lab-up-command';

const NAME = 'lab demo';

/** tunnelLine is one progress line of the demo, e.g. "[ 7/20] n2 → n4 up  rtt 0.412 ms  +2.1s". */
export function tunnelLine(t: TunnelUp): string {
  const w = String(t.total).length;
  return `[${String(t.index).padStart(w)}/${t.total}] ${t.from} → ${t.to} up  rtt ${formatMicros(t.rttUs)}  +${(t.afterMs / 1000).toFixed(1)}s`;
}

/** `trellis lab demo`: bring a lab up, show the mesh forming, wait, tear it down. */
export const labDemoCommand: Command = {
  name: NAME,
  summary: 'start a lab, show the mesh forming, then tear it down',
  help: `Usage: trellis lab demo [--nodes 5] [--duration <dur>] [--config <file>] [--probe-interval 1s]

Starts a lab, prints a line as each ordered pair's tunnel comes up (first handshake and first
probe RTT), then every node's peer table. Waits for Ctrl-C (or --duration) and removes the lab.

Flags:
  -n, --nodes <N>          number of nodes, 1..50 (default 5)
  --duration <dur>         tear down after this long, e.g. 10 (seconds), 30s, 2m
  --config <file>          plugin config passed to the controller and every agent
  --probe-interval <dur>   agents' probe interval (default 1s)
  -h, --help               show this help
`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values } = parseCommandArgs(NAME, {
      args: argv,
      options: { ...LAB_UP_OPTIONS, duration: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    const opts = labUpOptions(values, NAME, 5);
    const durationMs =
      values.duration !== undefined
        ? /^\d+(\.\d+)?$/.test(values.duration)
          ? parseDurationInRange('--duration', `${values.duration}s`, NAME, 0, 7 * 86_400_000)
          : parseDurationInRange('--duration', values.duration, NAME, 0, 7 * 86_400_000)
        : null;
    const dir = labDir(io.env);
    const onEarlyStop = () =>
      io.stderr('lab demo: stopping once the lab has started (Ctrl-C again quits now; then run `trellis lab down`)\n');
    io.shutdown.addEventListener('abort', onEarlyStop, { once: true });
    let lab: Lab | null = null;
    try {
      io.stdout(`Starting a ${opts.nodes}-node Trellis lab…\n`);
      const startedAt = Date.now();
      lab = await Lab.up({
        ...opts,
        dir,
        waitForMesh: false,
        onProgress: (e) => {
          const line = progressLine(e);
          if (line !== null && e.kind !== 'cleared') io.stdout(`  ${line.replace(/^lab: /, '')}\n`);
        },
      });
      io.shutdown.removeEventListener('abort', onEarlyStop);
      if (!io.shutdown.aborted) {
        const pairs = opts.nodes * (opts.nodes - 1);
        io.stdout(`\nWaiting for ${pairs} tunnels (handshake + first probe RTT), times from the start:\n`);
        const statuses = await watchTunnels(lab, (t) => io.stdout(tunnelLine(t) + '\n'), {
          timeoutMs: 90_000,
          signal: io.shutdown,
          startedAt,
        });
        if (io.shutdown.aborted) return 0;
        await lab.waitForMesh(30_000); // records every node's overlay addresses in the state file
        const now = Date.now();
        for (const name of lab.nodeNames) {
          const s = statuses.get(name);
          if (!s) continue;
          io.stdout(`\n${name}  ${s.node.addresses?.ipv4 ?? ''}  ${s.node.addresses?.ipv6 ?? ''}\n`);
          io.stdout(renderPeerTable(s, now, '  '));
        }
        io.stdout(
          `\nThe lab is running. Try: trellis status --node n1 | trellis lab exec n1 -- ping -c 3 ${lab.describe().nodes[1]?.addresses?.ipv4 ?? '<peer>'}\n`,
        );
        await waitForStop(io, durationMs);
      }
      return 0;
    } finally {
      io.shutdown.removeEventListener('abort', onEarlyStop);
      io.stdout('\nTearing the lab down…\n');
      await Lab.clear(dir);
      io.stdout('lab removed\n');
    }
  },
};

async function waitForStop(io: CliIO, durationMs: number | null): Promise<void> {
  if (durationMs !== null) {
    io.stdout(`Stopping in ${Math.round(durationMs / 1000)}s${io.isTTY ? ' (or on Ctrl-C)' : ''}.\n`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([waitForAbort(io.shutdown), new Promise<void>((r) => (timer = setTimeout(r, durationMs)))]);
    clearTimeout(timer);
    return;
  }
  io.stdout('Press Ctrl-C to stop.\n');
  await waitForAbort(io.shutdown);
}
