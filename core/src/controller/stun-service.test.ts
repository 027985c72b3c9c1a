import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { TrellisError } from '../errors';
import { classifyNat, stunBinding, transportAddressText, udpStunTransport } from '../stun';
import { RFC5769_REQUEST } from '../stun/testing/rfc5769-vectors';
import { startController, type RunningController } from './controller';

const log = pino({ level: 'silent' });
let dir: string;
const open: Array<{ close(): unknown }> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-stun-'));
});
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
  rmSync(dir, { recursive: true, force: true });
});

async function controller(stun: string[]): Promise<RunningController> {
  const c = await startController({ listen: '127.0.0.1:0', dataDir: dir, log, stun });
  open.push(c);
  return c;
}

function client(): Promise<Socket> {
  const s = createSocket('udp4');
  open.push(s);
  return new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve(s)));
}

async function stunCounts(c: RunningController): Promise<Record<string, number>> {
  const { resourceMetrics } = await c.metrics.collect();
  const m = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((x) => x.descriptor.name === 'trellis_stun_requests_total');
  const out: Record<string, number> = {};
  for (const p of m?.dataPoints ?? []) {
    const a = p.attributes as { listener: string; outcome: string };
    out[`${a.listener} ${a.outcome}`] = p.value as number;
  }
  return out;
}

describe('the controller STUN binding service (--stun)', () => {
  it('answers on two addresses; a local socket classifies as open, and the outcomes are counted', async () => {
    const c = await controller(['127.0.0.1:0', '127.0.0.2:0']);
    const [a, b] = c.stun!.addresses;
    expect(a!.address).toBe('127.0.0.1');
    expect(b!.address).toBe('127.0.0.2');
    const s = await client();
    const t = udpStunTransport(s);
    const r1 = await stunBinding(t, a!);
    const r2 = await stunBinding(t, b!);
    const own = { family: 'IPv4' as const, address: '127.0.0.1', port: s.address().port };
    expect(r1.mapped).toEqual(own);
    expect(r2.mapped).toEqual(own);
    expect(r1.software).toMatch(/^trellis \d+\.\d+\.\d+/);
    expect(classifyNat([{ server: a!, mapped: r1.mapped }, { server: b!, mapped: r2.mapped }], [own]).type).toBe('open');
    const counts = await stunCounts(c);
    expect(counts[`${transportAddressText(a!)} answered`]).toBe(1);
    expect(counts[`${transportAddressText(b!)} answered`]).toBe(1);
  });

  it('drops and counts malformed datagrams, answers the RFC 5769 request, and keeps serving', async () => {
    const c = await controller(['127.0.0.1:0']);
    const [a] = c.stun!.addresses;
    const s = await client();
    const send = (d: Buffer) => new Promise<void>((res) => s.send(d, a!.port, a!.address, () => res()));
    const replies: Buffer[] = [];
    s.on('message', (m) => replies.push(m));
    for (const junk of [Buffer.alloc(0), Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.alloc(1500, 0xff), RFC5769_REQUEST.subarray(0, 30)]) await send(junk);
    await send(Buffer.from(RFC5769_REQUEST));
    const answer = await stunBinding(udpStunTransport(s), a!);
    expect(answer.mapped.port).toBe(s.address().port);
    expect(replies.length).toBe(2); // the RFC request and ours; junk gets nothing
    const counts = await stunCounts(c);
    expect(counts[`${transportAddressText(a!)} malformed`]).toBe(4);
    expect(counts[`${transportAddressText(a!)} answered`]).toBe(2);
    expect(c.stun!.stats).toEqual({ answered: 2, rejected: 0, malformed: 4, ignored: 0 });
  });

  it('without --stun there is no service; a bad or taken address refuses to start, naming it', async () => {
    const none = await controller([]);
    expect(none.stun).toBeNull();
    await none.close();
    open.splice(0);
    const bad = await startController({ listen: '127.0.0.1:0', dataDir: dir, log, stun: ['nowhere'] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(TrellisError);
    expect((bad as TrellisError).message).toContain('"nowhere" is not host:port');
    const taken = await client();
    const port = taken.address().port;
    const busy = await startController({ listen: '127.0.0.1:0', dataDir: dir, log, stun: [`127.0.0.1:${port}`] }).catch((e: unknown) => e);
    expect((busy as TrellisError).message).toContain(`cannot listen on 127.0.0.1:${port}`);
  });
});
