/**
 * `trellis audit --follow` against real controllers in this process: it prints what the filters
 * select from the log's end on and stops cleanly on Ctrl-C; given two controllers on one store it
 * moves to the other when its stream breaks and continues after the last entry it printed (the
 * second controller here opens the first one's data dir after it stopped, as a shared store would
 * hold the same log).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startController, type RunningController } from '../../controller/controller';
import type { AuditEvent } from '../../wire';
import { runCli } from '../run-cli';
import { captureIO, type CapturedIO } from '../testing/capture-io';

let dir: string;
const running: RunningController[] = [];

const start = async (port = 0) => {
  const c = await startController({ listen: `127.0.0.1:${port}`, dataDir: join(dir, 'ctl'), log: pino({ level: 'silent' }), batchWindowMs: 10 });
  running.push(c);
  return c;
};
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
const createKey = async (c: RunningController, tag: string) => {
  const res = await fetch(`${c.url}/v1/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${c.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ tags: [`tag:${tag}`] }) });
  expect(res.status).toBe(200);
};
const printed = (io: CapturedIO) => io.out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEvent);
async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-audit-follow-'));
});
afterEach(async () => {
  for (const c of running.splice(0)) await c.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('trellis audit --follow', () => {
  it('prints new entries the filter selects, from now on, and exits 0 on Ctrl-C', async () => {
    const c = await start();
    await createKey(c, 'before');
    const io = captureIO({ TRELLIS_LAB_DIR: join(dir, 'no-lab'), TRELLIS_CONTROLLER: c.url, TRELLIS_ADMIN_TOKEN: c.adminToken });
    const done = runCli(['audit', '--follow', '--json', '--type', 'admin.key.created'], io);
    // The stream is open once its opening is audited.
    await until('the stream to open', async () => (await c.store.queryAudit({ types: ['admin.audit.followed'], limit: 5 })).length === 1);
    await createKey(c, 'a');
    await createKey(c, 'b');
    await until('two entries', () => printed(io).length === 2);
    expect(printed(io).map((e) => [e.action, (e.details as { tags?: string[] }).tags])).toEqual([
      ['admin.key.created', ['tag:a']],
      ['admin.key.created', ['tag:b']],
    ]);
    io.abort();
    expect(await done).toBe(0);
    expect(io.err).toBe('');
  });

  it('moves to the next controller when its stream breaks and continues after the last entry printed', async () => {
    const portA = await freePort();
    const portB = await freePort();
    const a = await start(portA);
    const urls = `http://127.0.0.1:${portA},http://127.0.0.1:${portB}`;
    const io = captureIO({ TRELLIS_LAB_DIR: join(dir, 'no-lab'), TRELLIS_CONTROLLER: urls, TRELLIS_ADMIN_TOKEN: a.adminToken });
    const done = runCli(['audit', '--follow', '--json', '--type', 'admin.key.created'], io);
    await until('the stream to open', async () => (await a.store.queryAudit({ types: ['admin.audit.followed'], limit: 5 })).length === 1);
    await createKey(a, 'a1');
    await until('a1', () => printed(io).length === 1);
    await a.close();
    running.splice(running.indexOf(a), 1);
    const b = await start(portB);
    await createKey(b, 'b1');
    await createKey(b, 'b2');
    await until('b1 and b2 from the other controller', () => printed(io).length === 3);
    expect(printed(io).map((e) => (e.details as { tags: string[] }).tags[0])).toEqual(['tag:a1', 'tag:b1', 'tag:b2']);
    const seqs = printed(io).map((e) => e.seq);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    expect(io.err).toContain(`the audit stream from http://127.0.0.1:${portA} broke`);
    expect(io.err).toContain(`following the audit log on http://127.0.0.1:${portB} after entry ${seqs[0]}`);
    io.abort();
    expect(await done).toBe(0);
  });

  it('with one controller, a broken stream is an error naming it', async () => {
    const server = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: ready\ndata: {"afterSeq":7}\n\n');
      setTimeout(() => res.socket?.destroy(), 100);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const io = captureIO({ TRELLIS_LAB_DIR: join(dir, 'no-lab'), TRELLIS_CONTROLLER: url, TRELLIS_ADMIN_TOKEN: 't'.repeat(43) });
      expect(await runCli(['audit', '--follow'], io)).toBe(1);
      expect(io.err).toMatch(new RegExp(`controller at ${url} is unreachable \\(the follow stream broke: .+\\)`));
    } finally {
      server.close();
    }
  });
});
