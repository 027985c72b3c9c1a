/**
 * probeNat asks two or more STUN servers, from one local UDP socket, which address they see, and
 * classifies the NAT in front of the socket (nat-classification.ts). It is what `trellis stun`
 * runs, and what the lab runs inside each node's namespace to measure the NAT it built.
 */
import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { classifyNat, type NatClassification } from './nat-classification';
import type { TransportAddress } from './stun-address';
import { stunBinding, udpStunTransport } from './stun-binding';

export interface NatProbeOptions {
  /** Local address to bind (default 0.0.0.0; an IPv6 address makes an IPv6 socket). */
  bind?: string;
  /** Local port (default 0: any free one). */
  port?: number;
  /** Per server, ms (default 3000). */
  timeoutMs?: number;
  software?: string;
}

export interface NatProbeAnswerView {
  /** As given, e.g. stun.example.org:3478. */
  server: string;
  /** The address it resolved to. */
  address: TransportAddress | null;
  mapped: TransportAddress | null;
  rttMs: number | null;
  software: string | null;
  /** Why there is no mapping (no answer, an error response, a name that does not resolve). */
  error: string | null;
}

export interface NatProbeResult {
  /** The socket's local port (and the address it was bound to). */
  local: { address: string; port: number };
  answers: NatProbeAnswerView[];
  nat: NatClassification;
}

/** splitServer reads host[:port] or [v6][:port]; the port defaults to 3478, STUN's. */
export function splitServer(text: string): { host: string; port: number } | null {
  const m = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(text) ?? /^([^:[\]\s]+)(?::(\d{1,5}))?$/.exec(text);
  if (!m) return null;
  const port = m[2] === undefined ? 3478 : Number(m[2]);
  if (!(port >= 1 && port <= 65535)) return null;
  return { host: m[1]!, port };
}

async function resolve(host: string, family: 4 | 6): Promise<string> {
  if (isIP(host)) return host;
  return (await lookup(host, { family })).address;
}

/** localAddresses: each interface address with the socket's port, to tell "no NAT" from an easy one. */
function localAddresses(port: number, family: 4 | 6): TransportAddress[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((i): i is NonNullable<typeof i> => !!i && (family === 4 ? i.family === 'IPv4' : i.family === 'IPv6'))
    .map((i) => ({ family: family === 4 ? ('IPv4' as const) : ('IPv6' as const), address: i.address, port }));
}

export async function probeNat(servers: readonly string[], opts: NatProbeOptions = {}): Promise<NatProbeResult> {
  const bind = opts.bind ?? '0.0.0.0';
  const family: 4 | 6 = isIP(bind) === 6 ? 6 : 4;
  const socket: Socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 });
  try {
    await new Promise<void>((res, rej) => {
      socket.once('error', rej);
      socket.bind(opts.port ?? 0, bind, () => {
        socket.off('error', rej);
        res();
      });
    });
    const port = socket.address().port;
    const transport = udpStunTransport(socket);
    const answers: NatProbeAnswerView[] = [];
    // One at a time: the mapping a server sees must not depend on how requests interleave.
    for (const text of servers) {
      const s = splitServer(text);
      if (!s) {
        answers.push({ server: text, address: null, mapped: null, rttMs: null, software: null, error: 'not host[:port]' });
        continue;
      }
      let address: TransportAddress | null = null;
      try {
        const ip = await resolve(s.host, family);
        address = { family: isIP(ip) === 6 ? 'IPv6' : 'IPv4', address: ip, port: s.port };
        const r = await stunBinding(transport, address, { timeoutMs: opts.timeoutMs ?? 3000, software: opts.software });
        answers.push({ server: text, address, mapped: r.mapped, rttMs: Math.round(r.rttMs * 1000) / 1000, software: r.software, error: null });
      } catch (err) {
        answers.push({ server: text, address, mapped: null, rttMs: null, software: null, error: (err as Error).message });
      }
    }
    const nat = classifyNat(
      answers.filter((a) => a.address !== null).map((a) => ({ server: a.address!, mapped: a.mapped })),
      localAddresses(port, family),
    );
    return { local: { address: bind, port }, answers, nat };
  } finally {
    socket.close();
  }
}
