import { probeNat, splitServer, transportAddressText, type NatProbeResult } from '../../stun';
import type { CliIO } from '../cli-io';
import { printJson, type Command } from '../command';
import { parseDurationInRange, parsePort } from '../flag-values';
import { parseCommandArgs } from '../parse-command-args';
import { renderTable } from '../../text/text-table';
import { UsageError } from '../usage-error';
import { coreVersion } from './version-command';

const NAME = 'stun';

/** `trellis stun`: ask STUN servers which address they see, and classify the NAT in front of this machine. */
export const stunCommand: Command = {
  name: NAME,
  summary: 'ask STUN servers for this machine\'s public address and classify its NAT',
  help: `Usage: trellis stun <host[:port]>... [--port <local port>] [--bind <ip>] [--timeout 3s] [--json]

Sends an RFC 8489 binding request from one local UDP socket to each server in turn (port 3478
unless given) and prints the address each server saw. With answers from two or more server
addresses it names the NAT in front of the socket: open (no NAT), easy (endpoint-independent
mapping: hole punching works), hard (a mapping per destination: pairs need a relay) or unknown.
Any RFC 5389/8489 server works, e.g. a Trellis controller started with --stun, or a public one.
Exits 1 when no server answered.

Flags:
  --port <port>      local UDP port (default: any free one)
  --bind <ip>        local address (default 0.0.0.0; an IPv6 address queries over IPv6)
  --timeout <dur>    per server, with retransmissions (default 3s)
  --json             print the local socket, every answer and the classification as JSON
  -h, --help         show this help
`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values, positionals } = parseCommandArgs(NAME, {
      args: argv,
      allowPositionals: true,
      options: { port: { type: 'string' }, bind: { type: 'string' }, timeout: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      io.stdout(this.help);
      return 0;
    }
    if (positionals.length === 0) throw new UsageError('which STUN servers? pass one or more host[:port], e.g. 198.18.0.1:3478 198.18.0.2:3478', NAME);
    for (const p of positionals) {
      if (!splitServer(p)) throw new UsageError(`"${p}" is not host[:port] or [ipv6][:port]`, NAME);
    }
    if (values.bind !== undefined && !/^[0-9.]+$|^[0-9A-Fa-f:]+$/.test(values.bind)) throw new UsageError(`--bind "${values.bind}" is not an IP address`, NAME);
    const result = await probeNat(positionals, {
      bind: values.bind,
      port: values.port !== undefined ? parsePort('--port', values.port, NAME) : undefined,
      timeoutMs: values.timeout !== undefined ? parseDurationInRange('--timeout', values.timeout, NAME, 50, 60_000) : undefined,
      software: `trellis ${coreVersion()}`,
    });
    if (values.json) printJson(io, result);
    else io.stdout(renderStunResult(result));
    return result.answers.some((a) => a.mapped !== null) ? 0 : 1;
  },
};

export function renderStunResult(r: NatProbeResult): string {
  const rows = r.answers.map((a) => [
    a.server,
    a.mapped ? transportAddressText(a.mapped) : '-',
    a.rttMs !== null ? `${a.rttMs.toFixed(1)} ms` : '-',
    a.error ?? a.software ?? '-',
  ]);
  return `local  udp ${r.local.address}:${r.local.port}\n\n` + renderTable(['SERVER', 'MAPPED', 'RTT', 'SOFTWARE / ERROR'], rows) + `\nNAT    ${r.nat.type}: ${r.nat.reason}\n`;
}
