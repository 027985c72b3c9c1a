/**
 * The JSON-lines audit file for a SIEM: one entry per line with its seq and chain hash, files 0600,
 * size-based rotation keeping N old files, resuming after a torn last line; and a real controller
 * writing its audit log there, continuing after a restart without repeating or skipping entries.
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { AuditEvent } from '../wire';
import { AuditFileSink } from './audit-file-sink';
import { startController } from './controller';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-audit-file-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const event = (seq: number, pad = ''): AuditEvent =>
  ({ seq, at: 1_800_000_000_000 + seq, action: 'admin.key.created', actor: 'admin', target: `k${seq}`, details: { pad }, prevHash: `p${seq}`, hash: `h${seq}` }) as AuditEvent;
const lines = (file: string) => readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { seq: number; at: string; hash: string; prevHash: string });

describe('AuditFileSink', () => {
  it('writes one JSON line per entry with its seq, time and hashes, in a 0600 file in a 0700 directory', async () => {
    const file = join(dir, 'siem', 'audit.jsonl');
    const sink = new AuditFileSink({ path: file, maxBytes: 1 << 20, keep: 3 });
    expect(sink.lastSeq()).toBeNull();
    await sink.write([event(1), event(2)]);
    expect(lines(file)).toEqual([
      { seq: 1, at: new Date(1_800_000_000_001).toISOString(), action: 'admin.key.created', actor: 'admin', target: 'k1', details: { pad: '' }, prevHash: 'p1', hash: 'h1' },
      { seq: 2, at: new Date(1_800_000_000_002).toISOString(), action: 'admin.key.created', actor: 'admin', target: 'k2', details: { pad: '' }, prevHash: 'p2', hash: 'h2' },
    ]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'siem')).mode & 0o777).toBe(0o700);
    expect(sink.lastSeq()).toBe(2);
  });

  it('rotates between lines when the file would pass maxBytes, keeping the newest N old files', async () => {
    const file = join(dir, 'audit.jsonl');
    const one = Buffer.byteLength(JSON.stringify({ seq: 10, at: new Date(1_800_000_000_010).toISOString(), action: 'admin.key.created', actor: 'admin', target: 'k10', details: { pad: 'x'.repeat(200) }, prevHash: 'p10', hash: 'h10' }) + '\n');
    // Three entries of this size fit in one file, a fourth does not.
    const sink = new AuditFileSink({ path: file, maxBytes: one * 3 + 10, keep: 2 });
    for (let seq = 10; seq < 30; seq++) await sink.write([event(seq, 'x'.repeat(200))]);
    expect(lines(file).map((l) => l.seq)).toEqual([28, 29]);
    expect(lines(`${file}.1`).map((l) => l.seq)).toEqual([25, 26, 27]);
    expect(lines(`${file}.2`).map((l) => l.seq)).toEqual([22, 23, 24]);
    expect(existsSync(`${file}.3`)).toBe(false);
    // A batch larger than a file is split over files too; no line is ever cut.
    await sink.write(Array.from({ length: 7 }, (_, i) => event(30 + i, 'x'.repeat(200))));
    expect([...lines(`${file}.2`), ...lines(`${file}.1`), ...lines(file)].map((l) => l.seq)).toEqual([28, 29, 30, 31, 32, 33, 34, 35, 36]);
    for (const f of [file, `${file}.1`, `${file}.2`]) expect(statSync(f).size).toBeLessThanOrEqual(one * 3 + 10);
  });

  it('resumes after the last whole line when the process died mid-write', async () => {
    const file = join(dir, 'audit.jsonl');
    await new AuditFileSink({ path: file, maxBytes: 1 << 20, keep: 1 }).write([event(1), event(2)]);
    appendFileSync(file, '{"seq":3,"at":"2027-01-');
    expect(new AuditFileSink({ path: file, maxBytes: 1 << 20, keep: 1 }).lastSeq()).toBe(2);
  });
});

describe('the controller\'s audit file', () => {
  it('holds the whole chain, and after a restart continues from where the file ends', async () => {
    const file = join(dir, 'audit.jsonl');
    const opts = { listen: '127.0.0.1:0', dataDir: join(dir, 'ctl'), log: pino({ level: 'silent' }), batchWindowMs: 10, trust: { audit: { file } } };
    const admin = (url: string, token: string) =>
      fetch(`${url}/v1/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"reusable":true}' });
    const until = async (what: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!what()) {
        if (Date.now() > deadline) throw new Error('the audit file did not catch up within 10 s');
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    let c = await startController(opts);
    try {
      for (let i = 0; i < 3; i++) expect((await admin(c.url, c.adminToken)).status).toBe(200);
      const head = (await c.store.auditHead())!.seq;
      await until(() => existsSync(file) && lines(file).at(-1)?.seq === head);
    } finally {
      await c.close();
    }
    const before = lines(file);
    c = await startController(opts);
    try {
      for (let i = 0; i < 2; i++) expect((await admin(c.url, c.adminToken)).status).toBe(200);
      const head = (await c.store.auditHead())!.seq;
      await until(() => lines(file).at(-1)?.seq === head);
      const after = lines(file);
      expect(after.slice(0, before.length)).toEqual(before);
      // Every entry once, in order, each chained to the one before it.
      expect(after.map((l) => l.seq)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
      for (let i = 1; i < after.length; i++) expect(after[i]!.prevHash).toBe(after[i - 1]!.hash);
      expect(after.filter((l) => (l as unknown as { action: string }).action === 'admin.key.created').length).toBe(5);
    } finally {
      await c.close();
    }
  });
});
