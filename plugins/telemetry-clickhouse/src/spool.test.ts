import { mkdtempSync, readdirSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool, type SpoolRecord } from './spool';

const rec = (id: number, n = 2): SpoolRecord => ({
  id: `b${id}`,
  table: 'probe_samples',
  rows: Array.from({ length: n }, (_, i) => ({ seq: id * 100 + i, src: 'a' })),
});

const drainIds = (s: Spool): string[] => {
  const out: string[] = [];
  for (let r = s.peek(); r; r = s.peek()) {
    out.push(r.id);
    s.ack();
  }
  return out;
};

describe('Spool', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'trellis-spool-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads blocks back in write order across segments', () => {
    const s = new Spool({ dir, maxBytes: 1 << 20, segmentBytes: 200 });
    for (let i = 1; i <= 10; i++) s.append([rec(i)]);
    expect(readdirSync(dir).filter((f) => f.startsWith('seg-')).length).toBeGreaterThan(2);
    expect(s.size()).toMatchObject({ records: 10, rows: 20 });
    expect(drainIds(s)).toEqual(Array.from({ length: 10 }, (_, i) => `b${i + 1}`));
    expect(s.isEmpty()).toBe(true);
    expect(readdirSync(dir).filter((f) => f.startsWith('seg-'))).toEqual([]);
  });

  it('keeps unreplayed blocks and the cursor across a reopen', () => {
    const s = new Spool({ dir, maxBytes: 1 << 20, segmentBytes: 300 });
    for (let i = 1; i <= 6; i++) s.append([rec(i)]);
    expect(s.peek()?.id).toBe('b1');
    s.ack();
    s.ack();
    s.close();
    const again = new Spool({ dir, maxBytes: 1 << 20, segmentBytes: 300 });
    expect(again.size()).toMatchObject({ records: 4, rows: 8 });
    again.append([rec(7)]);
    expect(drainIds(again)).toEqual(['b3', 'b4', 'b5', 'b6', 'b7']);
  });

  it('drops whole blocks past the byte bound and counts their rows', () => {
    const one = Buffer.byteLength(JSON.stringify(rec(1)) + '\n');
    const s = new Spool({ dir, maxBytes: one * 3 + 10 });
    const results = [1, 2, 3, 4, 5].map((i) => s.append([rec(i)]));
    expect(results.map((r) => r.droppedRows)).toEqual([0, 0, 0, 2, 2]);
    expect(results.reduce((n, r) => n + r.spooledRows, 0)).toBe(6);
    // replaying frees room again
    s.peek();
    s.ack();
    expect(s.append([rec(6)]).droppedRows).toBe(0);
    expect(drainIds(s)).toEqual(['b2', 'b3', 'b6']);
  });

  it('cuts a torn last line left by a crash mid-append', () => {
    const s = new Spool({ dir, maxBytes: 1 << 20 });
    s.append([rec(1), rec(2)]);
    s.close();
    const seg = readdirSync(dir).find((f) => f.startsWith('seg-'))!;
    appendFileSync(join(dir, seg), '{"id":"b3","table":"probe_sa');
    const again = new Spool({ dir, maxBytes: 1 << 20 });
    expect(again.size().records).toBe(2);
    again.append([rec(4)]);
    expect(drainIds(again)).toEqual(['b1', 'b2', 'b4']);
  });
});
