/**
 * AdminClient (client/) with several controllers: it moves on from one that cannot be reached or answers
 * 502/503/504, never sends a change twice when the first controller may have received it, and
 * names every controller when none answers. A real controller in this process; the others are
 * a closed port, a server answering 503 and one that drops the connection after reading.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startController, type RunningController } from './controller';
import { ROUTES, type AuthKeyView, type CreateKeyResponse } from '../wire';
import { AdminClient } from '../client/admin-client';

let dir: string;
let ctl: RunningController;
const servers: Server[] = [];

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

/** A port nothing listens on: connections are refused. */
async function closedPort(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-admin-client-'));
  ctl = await startController({ listen: '127.0.0.1:0', dataDir: join(dir, 'ctl'), log: pino({ level: 'silent' }), batchWindowMs: 10 });
});
afterAll(async () => {
  for (const s of servers) s.closeAllConnections(), s.close();
  await ctl.close();
  rmSync(dir, { recursive: true, force: true });
});

const keys = async () => (await new AdminClient(ctl.url, ctl.adminToken).request<AuthKeyView[]>('GET', ROUTES.adminKeys)).length;

describe('AdminClient over several controllers', () => {
  it('moves on from a refused connection, for changes too, and stays with the one that answered', async () => {
    const dead = await closedPort();
    const admin = new AdminClient(`${dead},${ctl.url}/`, ctl.adminToken);
    expect(admin.urls).toEqual([dead, ctl.url]);
    const before = await keys();
    const created = await admin.request<CreateKeyResponse>('POST', ROUTES.adminKeys, { reusable: false });
    expect(created.key).toMatch(/\S{20,}/);
    expect(admin.url).toBe(ctl.url);
    expect(await keys()).toBe(before + 1);
  });

  it('moves on from a controller answering 503 (it cannot serve now)', async () => {
    let hits = 0;
    const busy = await serve((_req, res) => {
      hits++;
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"code":"TRELLIS_ERR_STORE","message":"store unavailable"}}');
    });
    const admin = new AdminClient(`${busy},${ctl.url}`, ctl.adminToken);
    expect(Array.isArray(await admin.request('GET', ROUTES.adminKeys))).toBe(true);
    expect([hits, admin.url]).toEqual([1, ctl.url]);
  });

  it('a change the first controller may have received is not sent again; a read moves on', async () => {
    let posts = 0;
    const drops = await serve((req, res) => {
      if (req.method === 'POST') posts++;
      req.resume();
      req.on('end', () => res.socket?.destroy());
    });
    const before = await keys();
    const write = new AdminClient(`${drops},${ctl.url}`, ctl.adminToken);
    await expect(write.request('POST', ROUTES.adminKeys, { reusable: false })).rejects.toMatchObject({ code: 'TRELLIS_ERR_CONTROLLER_UNREACHABLE' });
    expect([posts, await keys(), write.url]).toEqual([1, before, drops]);
    const read = new AdminClient(`${drops},${ctl.url}`, ctl.adminToken);
    expect(Array.isArray(await read.request('GET', ROUTES.adminKeys))).toBe(true);
    expect(read.url).toBe(ctl.url);
  });

  it('names every controller when none can be reached, and keeps a definite refusal from the first', async () => {
    const a = await closedPort();
    const b = await closedPort();
    await expect(new AdminClient(`${a},${b}`, 'x'.repeat(43)).request('GET', ROUTES.adminKeys)).rejects.toMatchObject({
      code: 'TRELLIS_ERR_CONTROLLER_UNREACHABLE',
      message: expect.stringContaining(`controller at ${a}, ${b} is unreachable (ECONNREFUSED)`),
    });
    // A wrong token is an answer, not an outage: the next controller is not asked.
    const dead = await closedPort();
    const wrong = new AdminClient(`${ctl.url},${dead}`, 'y'.repeat(43));
    await expect(wrong.request('GET', ROUTES.adminKeys)).rejects.toMatchObject({ code: 'TRELLIS_ERR_ADMIN_UNAUTHORIZED' });
    expect(wrong.url).toBe(ctl.url);
  });

  it('refuses a bad list before sending anything', () => {
    expect(() => new AdminClient('http://a:1,ftp://b', 't')).toThrow(/"ftp:\/\/b" must be an http/);
    expect(() => new AdminClient('http://a:1,http://a:1/', 't')).toThrow(/lists a controller twice/);
  });
});
