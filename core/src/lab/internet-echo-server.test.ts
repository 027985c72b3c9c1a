import type { AddressInfo } from 'node:net';
import { callerAddress, startEchoServer } from './internet-echo-server';

describe('internet echo server', () => {
  it('answers an HTTP/1.1 request with the address it came from', async () => {
    const server = await startEchoServer('127.0.0.1', 0);
    try {
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect((await res.text()).trim()).toBe('127.0.0.1');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('drops the IPv4-mapped prefix', () => {
    expect(callerAddress('::ffff:198.18.0.13')).toBe('198.18.0.13');
    expect(callerAddress('fd7a::3')).toBe('fd7a::3');
  });
});
