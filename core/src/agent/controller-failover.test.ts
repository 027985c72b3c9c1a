import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateIdentityKeyPair, ed25519PrivateKey } from '../auth/keys';
import { ErrorCode } from '../errors';
import { parseControllerUrls } from '../client/controller-urls';
import { ControllerClient } from './controller-client';

/** A controller stand-in that answers the facts route with `status` and the map stream with one event. */
async function serve(status: number): Promise<{ url: string; hits: string[]; close: () => Promise<void> }> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url} ${req.headers['x-trellis-nonce'] ?? ''}`);
    if (req.url?.startsWith('/v1/map/stream')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('event: ping\ndata: {}\n\n');
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(status < 300 ? '' : JSON.stringify({ error: { code: status >= 500 ? 'TRELLIS_ERR_INTERNAL' : 'TRELLIS_ERR_BAD_REQUEST', message: 'no' } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

/** A URL nothing listens on. */
async function deadUrl(): Promise<string> {
  const s = await serve(200);
  await s.close();
  return s.url;
}

const identity = () => ed25519PrivateKey(generateIdentityKeyPair());

describe('ControllerClient with several controllers', () => {
  it('parses a comma-separated list and refuses a bad or repeated URL, naming it', () => {
    expect(parseControllerUrls('http://a:1/, https://b:2')).toEqual(['http://a:1', 'https://b:2']);
    expect(() => parseControllerUrls('http://a:1,ftp://b')).toThrow(/"ftp:\/\/b" must be an http/);
    expect(() => parseControllerUrls('http://a:1,nope')).toThrow(/"nope" is not a URL/);
    expect(() => parseControllerUrls('http://a:1,http://a:1/')).toThrow(/lists a controller twice/);
    expect(() => parseControllerUrls(' , ')).toThrow(/names no controller/);
  });

  it('moves on from a controller that cannot be reached, and stays with the one that answered', async () => {
    const dead = await deadUrl();
    const live = await serve(204);
    try {
      const c = new ControllerClient({ url: `${dead},${live.url}` });
      c.setIdentity('node-1', identity());
      expect(c.url).toBe(dead);
      await c.postFacts({ facts: {} } as never);
      expect(c.url).toBe(live.url);
      expect(c.failovers).toBe(1);
      await c.postFacts({ facts: {} } as never);
      expect(live.hits).toHaveLength(2);
      expect(c.failovers).toBe(1);
    } finally {
      await live.close();
    }
  });

  it('moves on from 503 with a freshly signed request, but not from a refusal', async () => {
    const busy = await serve(503);
    const live = await serve(204);
    const refusing = await serve(400);
    try {
      const c = new ControllerClient({ url: `${busy.url},${live.url}` });
      c.setIdentity('node-1', identity());
      await c.postFacts({ facts: {} } as never);
      expect(busy.hits).toHaveLength(1);
      expect(live.hits).toHaveLength(1);
      // Each attempt carries its own nonce: the second controller never sees a replay.
      expect(busy.hits[0]!.split(' ')[2]).not.toBe(live.hits[0]!.split(' ')[2]);

      const r = new ControllerClient({ url: `${refusing.url},${live.url}` });
      r.setIdentity('node-1', identity());
      await expect(r.postFacts({ facts: {} } as never)).rejects.toMatchObject({ status: 400 });
      expect(r.url).toBe(refusing.url);
    } finally {
      await Promise.all([busy.close(), live.close(), refusing.close()]);
    }
  });

  it('fails with CONTROLLER_UNREACHABLE naming the last controller when none answers', async () => {
    const [a, b] = [await deadUrl(), await deadUrl()];
    const c = new ControllerClient({ url: `${a},${b}` });
    c.setIdentity('node-1', identity());
    await expect(c.postFacts({ facts: {} } as never)).rejects.toMatchObject({ code: ErrorCode.CONTROLLER_UNREACHABLE, message: expect.stringContaining(b) });
  });

  it('opens the next map stream at the next controller once one ends', async () => {
    const a = await serve(200);
    const b = await serve(200);
    try {
      const c = new ControllerClient({ url: `${a.url},${b.url}` });
      c.setIdentity('node-1', identity());
      const ctl = new AbortController();
      for await (const ev of c.streamMap(null, null, ctl.signal)) expect(ev.event).toBe('ping');
      expect(c.url).toBe(b.url);
      for await (const ev of c.streamMap(null, null, ctl.signal)) expect(ev.event).toBe('ping');
      expect([a.hits.length, b.hits.length]).toEqual([1, 1]);
      expect(c.url).toBe(a.url);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
