import { createSocket, type Socket } from 'node:dgram';
import { answerBindingRequest } from './binding-responder';
import { toTransportAddress, type TransportAddress } from './stun-address';
import { readBindingResponse, stunBinding, udpStunTransport, type StunTransport } from './stun-binding';
import { StunAttr, StunClass, encodeStunMessage } from './stun-message';
import { RFC5769_IPV4_RESPONSE, RFC5769_IPV6_RESPONSE, RFC5769_TRANSACTION_ID } from './testing/rfc5769-vectors';
import { encodeMappedAddress } from './stun-address';
import { TrellisError } from '../errors';

const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

function bound(): Promise<Socket> {
  const s = createSocket('udp4');
  sockets.push(s);
  return new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve(s)));
}

/** A binding server on loopback made of the real responder; `drop` lets it ignore the first n requests. */
async function server(drop = 0): Promise<{ addr: TransportAddress; seen: () => number }> {
  const s = await bound();
  let seen = 0;
  s.on('message', (msg, rinfo) => {
    seen++;
    if (seen <= drop) return;
    const a = answerBindingRequest(msg, toTransportAddress(rinfo), 'test server');
    if (a.reply) s.send(a.reply, rinfo.port, rinfo.address);
  });
  return { addr: toTransportAddress(s.address()), seen: () => seen };
}

describe('readBindingResponse', () => {
  it('reads the RFC 5769 responses (IPv4 and IPv6) and ignores other transactions', () => {
    expect(readBindingResponse(RFC5769_IPV4_RESPONSE, RFC5769_TRANSACTION_ID)).toEqual({
      ok: true,
      mapped: { family: 'IPv4', address: '192.0.2.1', port: 32853 },
      attribute: 'xor',
      software: 'test vector',
    });
    expect(readBindingResponse(RFC5769_IPV6_RESPONSE, RFC5769_TRANSACTION_ID)).toMatchObject({ ok: true, mapped: { family: 'IPv6', address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 } });
    expect(readBindingResponse(RFC5769_IPV4_RESPONSE, Buffer.alloc(12))).toBeNull();
    expect(readBindingResponse(Buffer.from('junk'), RFC5769_TRANSACTION_ID)).toBeNull();
  });

  it('takes MAPPED-ADDRESS from servers that send only that; a success without an address is unusable', () => {
    const tx = Buffer.alloc(12, 7);
    const plain = encodeStunMessage({ cls: StunClass.success, method: 1, transactionId: tx, attributes: [{ type: StunAttr.MAPPED_ADDRESS, value: encodeMappedAddress({ family: 'IPv4', address: '203.0.113.9', port: 5000 }) }] });
    expect(readBindingResponse(plain, tx)).toEqual({ ok: true, mapped: { family: 'IPv4', address: '203.0.113.9', port: 5000 }, attribute: 'plain', software: null });
    const empty = encodeStunMessage({ cls: StunClass.success, method: 1, transactionId: tx, attributes: [] });
    expect(readBindingResponse(empty, tx)).toEqual({ ok: false, code: null, reason: 'a success response without XOR-MAPPED-ADDRESS or MAPPED-ADDRESS' });
  });
});

describe('stunBinding over UDP', () => {
  it('learns the socket\'s own address from a real server on loopback, with an RTT', async () => {
    const srv = await server();
    const client = await bound();
    const r = await stunBinding(udpStunTransport(client), srv.addr, { software: 'trellis test' });
    expect(r.mapped).toEqual({ family: 'IPv4', address: '127.0.0.1', port: client.address().port });
    expect(r.software).toBe('test server');
    expect(r.attempts).toBe(1);
    expect(r.rttMs).toBeGreaterThanOrEqual(0);
    expect(r.rttMs).toBeLessThan(1000);
  });

  it('retransmits with the same transaction until answered', async () => {
    const srv = await server(2);
    const client = await bound();
    const r = await stunBinding(udpStunTransport(client), srv.addr, { rtoMs: 20, timeoutMs: 2000 });
    expect(r.attempts).toBe(3);
    expect(srv.seen()).toBe(3);
  });

  it('gives up with STUN_NO_ANSWER when nothing answers', async () => {
    const silent = await bound();
    const client = await bound();
    const err = await stunBinding(udpStunTransport(client), toTransportAddress(silent.address()), { rtoMs: 20, timeoutMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrellisError);
    expect((err as TrellisError).code).toBe('TRELLIS_ERR_STUN_NO_ANSWER');
    expect((err as TrellisError).message).toMatch(/did not answer a binding request within 200 ms \(\d+ attempts\)/);
  });

  it('ignores answers from other addresses (a spoofed or stray reply) and reports an error response as STUN_BAD_RESPONSE', async () => {
    const srv = { family: 'IPv4' as const, address: '192.0.2.50', port: 3478 };
    let onDatagram: ((d: Buffer, from: { address: string; port: number }) => void) | null = null;
    const sent: Buffer[] = [];
    const transport: StunTransport = {
      send: (d) => void sent.push(d),
      receive: (fn) => ((onDatagram = fn), () => (onDatagram = null)),
    };
    const pending = stunBinding(transport, srv, { rtoMs: 1000, timeoutMs: 2000 }).catch((e: unknown) => e);
    const req = sent[0]!;
    const answer = answerBindingRequest(req, { family: 'IPv4', address: '198.18.0.11', port: 1 }, 'x').reply!;
    onDatagram!(answer, { address: '192.0.2.66', port: 3478 });
    const rejected = answerBindingRequest(
      encodeStunMessage({ cls: StunClass.request, method: 1, transactionId: req.subarray(8, 20), attributes: [{ type: 0x0003, value: Buffer.alloc(4) }] }),
      { family: 'IPv4', address: '198.18.0.11', port: 1 },
      'x',
    ).reply!;
    onDatagram!(rejected, srv);
    const err = (await pending) as TrellisError;
    expect(err.code).toBe('TRELLIS_ERR_STUN_BAD_RESPONSE');
    expect(err.message).toContain('error 420 Unknown Attribute');
    expect(onDatagram).toBeNull();
  });
});
