import { createSocket } from 'node:dgram';
import pino from 'pino';
import { StunService } from '../../controller/stun-service';
import { runCli } from '../run-cli';
import { captureIO } from '../testing/capture-io';

let svc: StunService;
beforeAll(async () => {
  svc = await StunService.start({ listen: [{ host: '127.0.0.1', port: 0 }, { host: '127.0.0.2', port: 0 }], software: 'trellis test', log: pino({ level: 'silent' }) });
});
afterAll(() => svc.close());

async function stun(argv: string[]) {
  const io = captureIO({});
  const code = await runCli(['stun', ...argv], io);
  return { code, out: io.out, err: io.err };
}

describe('trellis stun', () => {
  it('prints what each server saw and classifies a socket with no NAT as open', async () => {
    const [a, b] = svc.addresses.map((x) => `${x.address}:${x.port}`);
    const r = await stun([a!, b!, '--bind', '127.0.0.1']);
    expect(r.code).toBe(0);
    const port = /local {2}udp 127\.0\.0\.1:(\d+)/.exec(r.out)![1];
    expect(r.out).toMatch(new RegExp(`127\\.0\\.0\\.1:\\d+\\s+127\\.0\\.0\\.1:${port}\\s+\\d+\\.\\d ms\\s+trellis test`));
    expect(r.out).toMatch(new RegExp(`127\\.0\\.0\\.2:\\d+\\s+127\\.0\\.0\\.1:${port}\\s+\\d+\\.\\d ms\\s+trellis test`));
    expect(r.out).toContain(`NAT    open: no NAT: every server saw the socket's own address 127.0.0.1:${port}`);
  });

  it('--json gives the same facts; no answer exits 1 with the reason', async () => {
    const [a] = svc.addresses.map((x) => `${x.address}:${x.port}`);
    const silent = createSocket('udp4');
    await new Promise<void>((res) => silent.bind(0, '127.0.0.1', () => res()));
    try {
      const r = await stun([a!, `127.0.0.1:${silent.address().port}`, '--bind', '127.0.0.1', '--timeout', '300ms', '--json']);
      expect(r.code).toBe(0);
      const j = JSON.parse(r.out) as { answers: Array<{ mapped: unknown; error: string | null }>; nat: { type: string } };
      expect(j.answers[0]!.mapped).toEqual({ family: 'IPv4', address: '127.0.0.1', port: expect.any(Number) });
      expect(j.answers[1]!.error).toMatch(/did not answer a binding request within 300 ms/);
      expect(j.nat.type).toBe('unknown');
      const none = await stun([`127.0.0.1:${silent.address().port}`, '--bind', '127.0.0.1', '--timeout', '200ms']);
      expect(none.code).toBe(1);
    } finally {
      silent.close();
    }
  });

  it('bad input is a usage error', async () => {
    expect((await stun([])).err).toContain('which STUN servers?');
    expect((await stun(['a:b:c:d'])).err).toContain('"a:b:c:d" is not host[:port]');
    expect((await stun(['127.0.0.1:99999'])).code).toBe(2);
    expect((await stun(['127.0.0.1', '--timeout', 'soon'])).err).toContain('--timeout "soon" is not a duration');
  });
});
