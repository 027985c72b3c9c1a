/**
 * StunService is the controller's STUN binding service (RFC 8489, `trellis controller --stun`):
 * one UDP socket per listen address, each datagram decided by answerBindingRequest (stun/). It
 * tells nodes their reflexive (NAT-mapped) address; two listen addresses let a node behind a NAT
 * see whether its mapping depends on the destination. A bad datagram is counted and dropped; it
 * never stops the service.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from '../log/logger';
import { answerBindingRequest, toTransportAddress, transportAddressText, type BindingOutcome, type TransportAddress } from '../stun';
import { errors } from '../errors';

export interface StunServiceOptions {
  /** Where to listen; port 0 picks a free one (see addresses once started). */
  listen: ReadonlyArray<{ host: string; port: number }>;
  /** SOFTWARE in every answer, e.g. "trellis 0.1.0". */
  software: string;
  log: Logger;
  /** Hears every datagram's outcome, e.g. for the trellis_stun_requests_total counter. */
  onOutcome?: (listener: string, outcome: BindingOutcome) => void;
}

export class StunService {
  private readonly sockets: Socket[] = [];
  private bound: TransportAddress[] = [];
  private readonly counts: Record<BindingOutcome, number> = { answered: 0, rejected: 0, malformed: 0, ignored: 0 };

  private constructor(private readonly o: StunServiceOptions) {}

  /** start binds every listen address; if one cannot be bound, those already bound are closed and it rejects. */
  static async start(o: StunServiceOptions): Promise<StunService> {
    const svc = new StunService(o);
    try {
      for (const l of o.listen) await svc.listen(l.host, l.port);
    } catch (err) {
      await svc.close();
      throw err;
    }
    o.log.info({ stun: svc.bound.map(transportAddressText) }, 'STUN binding service listening');
    return svc;
  }

  /** The bound addresses, in the order given. */
  get addresses(): TransportAddress[] {
    return this.bound.map((a) => ({ ...a }));
  }

  /** Datagrams seen so far, by outcome. */
  get stats(): Readonly<Record<BindingOutcome, number>> {
    return { ...this.counts };
  }

  private listen(host: string, port: number): Promise<void> {
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', ipv6Only: isIPv6(host) });
    this.sockets.push(socket);
    return new Promise((resolve, reject) => {
      const failed = (err: Error) => reject(errors.configInvalid('--stun', `cannot listen on ${host}:${port} (${err.message})`));
      socket.once('error', failed);
      socket.bind(port, host, () => {
        socket.off('error', failed);
        const me = toTransportAddress(socket.address());
        this.bound.push(me);
        const name = transportAddressText(me);
        socket.on('error', (err) => this.o.log.warn({ err: err.message, listener: name }, 'STUN socket error'));
        socket.on('message', (msg, rinfo) => this.handle(socket, name, msg, rinfo));
        resolve();
      });
    });
  }

  private handle(socket: Socket, listener: string, msg: Buffer, rinfo: { address: string; port: number }): void {
    const answer = answerBindingRequest(msg, toTransportAddress(rinfo), this.o.software);
    this.counts[answer.outcome]++;
    this.o.onOutcome?.(listener, answer.outcome);
    if (answer.outcome !== 'answered') this.o.log.debug({ listener, from: `${rinfo.address}:${rinfo.port}`, outcome: answer.outcome, reason: answer.reason }, 'STUN datagram not answered with an address');
    if (answer.reply) socket.send(answer.reply, rinfo.port, rinfo.address, (err) => err && this.o.log.debug({ err: err.message, listener }, 'STUN reply not sent'));
  }

  async close(): Promise<void> {
    const closing = this.sockets.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          try {
            s.close(() => resolve());
          } catch {
            resolve(); // never bound (its bind failed): nothing to close
          }
        }),
    );
    await Promise.all(closing);
  }
}
