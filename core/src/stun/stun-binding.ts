/**
 * The client side of a STUN binding: build the request, read the response (XOR-MAPPED-ADDRESS, or
 * MAPPED-ADDRESS from old servers; IPv4 and IPv6; error responses), and stunBinding, one
 * transaction with retransmissions (RFC 8489 §6.2.1) over any StunTransport: a plain UDP socket
 * (udpStunTransport) for the lab's NAT classification, or the agent's WireGuard socket through
 * trellis-wg's control socket, so the answer is that socket's NAT mapping.
 */
import type { Socket } from 'node:dgram';
import { errors } from '../errors';
import { decodeMappedAddress, decodeXorMappedAddress, sameTransportAddress, toTransportAddress, transportAddressText, type TransportAddress } from './stun-address';
import {
  StunAttr,
  StunClass,
  StunMethod,
  attribute,
  encodeStunMessage,
  newTransactionId,
  parseErrorCode,
  parseStunMessage,
  softwareAttribute,
} from './stun-message';

export interface BindingRequest {
  transactionId: Buffer;
  datagram: Buffer;
}

/** bindingRequest is a Binding request with a fresh transaction id, SOFTWARE when given, and FINGERPRINT. */
export function bindingRequest(opts: { software?: string; transactionId?: Buffer } = {}): BindingRequest {
  const transactionId = opts.transactionId ?? newTransactionId();
  const datagram = encodeStunMessage({
    cls: StunClass.request,
    method: StunMethod.binding,
    transactionId,
    attributes: opts.software ? [softwareAttribute(opts.software)] : [],
  });
  return { transactionId, datagram };
}

export type BindingResponse =
  | { ok: true; mapped: TransportAddress; /** 'xor': XOR-MAPPED-ADDRESS; 'plain': MAPPED-ADDRESS (RFC 3489 servers). */ attribute: 'xor' | 'plain'; software: string | null }
  | { ok: false; /** The server's error code (e.g. 420), or null when the response itself is unusable. */ code: number | null; reason: string };

/**
 * readBindingResponse reads a datagram as the response to transactionId: null when it is not
 * (not STUN, another transaction, or a request), otherwise the mapped address or why there is none.
 */
export function readBindingResponse(datagram: Uint8Array, transactionId: Buffer): BindingResponse | null {
  const parsed = parseStunMessage(datagram);
  if (!parsed.ok) return null;
  const m = parsed.message;
  if (!m.transactionId.equals(transactionId) || m.method !== StunMethod.binding) return null;
  if (m.cls === StunClass.request || m.cls === StunClass.indication) return null;
  const software = attribute(m, StunAttr.SOFTWARE)?.value.toString('utf8') ?? null;
  if (m.cls === StunClass.error) {
    const ec = attribute(m, StunAttr.ERROR_CODE);
    const err = ec ? parseErrorCode(ec.value) : null;
    return err ? { ok: false, code: err.code, reason: `error ${err.code} ${err.reason}`.trim() } : { ok: false, code: null, reason: 'an error response without a valid ERROR-CODE' };
  }
  const xor = attribute(m, StunAttr.XOR_MAPPED_ADDRESS);
  if (xor) {
    const mapped = decodeXorMappedAddress(xor.value, m.transactionId);
    return mapped ? { ok: true, mapped, attribute: 'xor', software } : { ok: false, code: null, reason: 'a malformed XOR-MAPPED-ADDRESS' };
  }
  const plain = attribute(m, StunAttr.MAPPED_ADDRESS);
  if (plain) {
    const mapped = decodeMappedAddress(plain.value);
    return mapped ? { ok: true, mapped, attribute: 'plain', software } : { ok: false, code: null, reason: 'a malformed MAPPED-ADDRESS' };
  }
  return { ok: false, code: null, reason: 'a success response without XOR-MAPPED-ADDRESS or MAPPED-ADDRESS' };
}

/** StunTransport is whatever carries the datagrams: a UDP socket, or the WireGuard socket via trellis-wg. */
export interface StunTransport {
  send(datagram: Buffer, to: { address: string; port: number }): void | Promise<void>;
  /** receive calls onDatagram for every datagram that arrives until the returned function is called. */
  receive(onDatagram: (datagram: Buffer, from: { address: string; port: number }) => void): () => void;
}

export interface StunBindingOptions {
  /** First retransmission timeout, ms (RFC 8489 RTO; default 250, doubling each time). */
  rtoMs?: number;
  /** Give up after this long, ms (default 3000). */
  timeoutMs?: number;
  /** SOFTWARE to send; default none. */
  software?: string;
  /** Clock, for RTT; default performance.now. */
  now?: () => number;
}

export interface StunBindingResult {
  server: TransportAddress;
  /** The reflexive transport address the server saw. */
  mapped: TransportAddress;
  attribute: 'xor' | 'plain';
  software: string | null;
  /** From the send of the answered attempt to its answer, ms (an answer to an earlier attempt counts from that one). */
  rttMs: number;
  /** How many requests were sent. */
  attempts: number;
}

/**
 * stunBinding runs one binding transaction against server: the request is re-sent with the same
 * transaction id at rto, 2·rto, 4·rto … until an answer from the server's own address arrives or
 * timeoutMs passes. Rejects with STUN_NO_ANSWER or STUN_BAD_RESPONSE (error responses included).
 */
export function stunBinding(transport: StunTransport, server: TransportAddress, opts: StunBindingOptions = {}): Promise<StunBindingResult> {
  const rto = opts.rtoMs ?? 250;
  const timeoutMs = opts.timeoutMs ?? 3000;
  const now = opts.now ?? (() => performance.now());
  const req = bindingRequest({ software: opts.software });
  const name = transportAddressText(server);
  return new Promise((resolve, reject) => {
    const sentAt: number[] = [];
    let timer: NodeJS.Timeout | null = null;
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      clearTimeout(deadline);
      stop();
      fn();
    };
    const stop = transport.receive((datagram, from) => {
      if (!sameTransportAddress(from, server)) return;
      const res = readBindingResponse(datagram, req.transactionId);
      if (res === null) return;
      const t = now();
      if (!res.ok) return finish(() => reject(errors.stunBadResponse(name, res.reason)));
      // Retransmissions share the transaction id, so the answer is to the latest attempt at the earliest.
      const rtt = t - (sentAt[sentAt.length - 1] ?? t);
      finish(() => resolve({ server, mapped: res.mapped, attribute: res.attribute, software: res.software, rttMs: rtt, attempts: sentAt.length }));
    });
    const attempt = (wait: number) => {
      if (done) return;
      sentAt.push(now());
      Promise.resolve(transport.send(req.datagram, server)).catch((err: unknown) =>
        finish(() => reject(errors.stunBadResponse(name, `no way to send to it (${(err as Error).message})`))),
      );
      timer = setTimeout(() => attempt(wait * 2), wait);
    };
    const deadline = setTimeout(() => finish(() => reject(errors.stunNoAnswer(name, timeoutMs, sentAt.length))), timeoutMs);
    attempt(rto);
  });
}

/** udpStunTransport carries STUN over a bound dgram socket (the caller owns and closes it). */
export function udpStunTransport(socket: Socket): StunTransport {
  return {
    send: (datagram, to) =>
      new Promise<void>((resolve, reject) => socket.send(datagram, to.port, to.address, (err) => (err ? reject(err) : resolve()))),
    receive: (onDatagram) => {
      const listener = (msg: Buffer, rinfo: { address: string; port: number }) => onDatagram(msg, toTransportAddress(rinfo));
      socket.on('message', listener);
      return () => socket.off('message', listener);
    },
  };
}
