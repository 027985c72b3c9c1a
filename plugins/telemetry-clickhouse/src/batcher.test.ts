import { Batcher } from './batcher';
import type { Clock } from './clock';
import type { DbRow, TableName } from './rows';

/** FakeClock runs timers only when the test advances time. */
class FakeClock implements Clock {
  t = 0;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private nextId = 1;
  now() {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number) {
    const id = this.nextId++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(h: unknown) {
    this.timers = this.timers.filter((x) => x.id !== h);
  }
  advance(ms: number) {
    this.t += ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= this.t).sort((a, b) => a.at - b.at)[0];
      if (!due) return;
      this.timers = this.timers.filter((x) => x !== due);
      due.fn();
    }
  }
  get armed() {
    return this.timers.length;
  }
}

const rows = (n: number, from = 0): DbRow[] => Array.from({ length: n }, (_, i) => ({ seq: from + i }));

function setup(maxRows: number, maxMs: number) {
  const clock = new FakeClock();
  const blocks: Array<{ table: TableName; seqs: number[] }> = [];
  const b = new Batcher({ maxRows, maxMs, clock, onBlock: (table, r) => blocks.push({ table, seqs: r.map((x) => Number(x.seq)) }) });
  return { clock, blocks, b };
}

describe('Batcher', () => {
  it('cuts a block as soon as a table holds maxRows rows, in order', () => {
    const { blocks, b } = setup(3, 1000);
    b.add({ probe_samples: rows(7) });
    expect(blocks).toEqual([
      { table: 'probe_samples', seqs: [0, 1, 2] },
      { table: 'probe_samples', seqs: [3, 4, 5] },
    ]);
    expect(b.pendingRows).toBe(1);
  });
  it('flushes everything maxMs after the oldest buffered row', () => {
    const { clock, blocks, b } = setup(100, 1000);
    b.add({ probe_samples: rows(2) });
    clock.advance(600);
    b.add({ probe_samples: rows(1, 2), node_events: rows(1, 10) });
    expect(blocks).toHaveLength(0);
    clock.advance(399);
    expect(blocks).toHaveLength(0);
    clock.advance(1);
    expect(blocks).toEqual([
      { table: 'probe_samples', seqs: [0, 1, 2] },
      { table: 'node_events', seqs: [10] },
    ]);
    expect(b.pendingRows).toBe(0);
    expect(clock.armed).toBe(0);
  });
  it('re-arms the timer for rows after a time flush and disarms when a size cut empties it', () => {
    const { clock, blocks, b } = setup(2, 500);
    b.add({ audit_events: rows(2) });
    expect(blocks).toHaveLength(1);
    expect(clock.armed).toBe(0);
    b.add({ audit_events: rows(1, 5) });
    expect(clock.armed).toBe(1);
    clock.advance(500);
    expect(blocks[1]).toEqual({ table: 'audit_events', seqs: [5] });
  });
  it('flush() hands on every buffered table at once', () => {
    const { blocks, b } = setup(100, 1000);
    b.add({ tunnel_stats: rows(2), shaping_stats: rows(1) });
    b.flush();
    expect(blocks.map((x) => x.table)).toEqual(['tunnel_stats', 'shaping_stats']);
  });
});
