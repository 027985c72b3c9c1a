import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlockSink } from './block-sink';
import { ClickHouseExporter } from './exporter';
import type { SpoolRecord } from './spool';

/** FlakySink is a boundary fake for ClickHouse: it fails inserts while down and records ledger lookups. */
class FlakySink implements BlockSink {
  down = false;
  /** Block ids the fake "server" holds. */
  readonly landed: string[] = [];
  readonly asked: string[] = [];
  /** When set, the next insert lands and then fails (a timeout after the server took it). */
  landThenFail = false;
  async insert(block: SpoolRecord): Promise<void> {
    if (this.landThenFail) {
      this.landThenFail = false;
      this.landed.push(block.id);
      throw Object.assign(new Error('timeout'), { code: 'TRELLIS_ERR_CLICKHOUSE_UNREACHABLE' });
    }
    if (this.down) throw Object.assign(new Error('ECONNREFUSED'), { code: 'TRELLIS_ERR_CLICKHOUSE_UNREACHABLE' });
    this.landed.push(block.id);
  }
  async has(blockId: string): Promise<boolean> {
    this.asked.push(blockId);
    return this.landed.includes(blockId);
  }
}

const probe = (seq: number) => ({ at: 1_700_000_000_000 + seq, src: 'a', dst: 'b', path: 'direct', seq, rttUs: 100, lost: false, jitterUs: 1 });

describe('ClickHouseExporter replay', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-exp-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('asks the ledger only about the block that may have landed, and never inserts it twice', async () => {
    const sink = new FlakySink();
    const ex = new ClickHouseExporter({ sink, spoolDir: join(dir, 'a'), spoolMaxBytes: 1 << 20, batchMaxRows: 2, batchMaxMs: 10_000, retryMinMs: 1, retryMaxMs: 2 });
    sink.landThenFail = true;
    sink.down = true;
    // 3 blocks: the first lands but its answer is lost; all three go to the spool.
    await ex.export({ probes: [probe(1), probe(2), probe(3), probe(4), probe(5), probe(6)] });
    await ex.forceFlush();
    expect(ex.stats()).toMatchObject({ inserted: 0, spooled: 6, spoolRows: 6 });
    sink.down = false;
    expect(await ex.drain(5000)).toBe(true);
    const s = ex.stats();
    expect(s).toMatchObject({ replayed: 4, duplicatesSkipped: 2, spoolRows: 0, dropped: 0 });
    expect(new Set(sink.landed).size).toBe(sink.landed.length);
    expect(sink.landed).toHaveLength(3);
    // Only the first block was ever sent before replay: the ledger is asked about it alone.
    expect(sink.asked).toEqual([sink.landed[0]]);
    await ex.shutdown();
  });

  it('after a restart asks the ledger about the spool head once, then replays the rest directly', async () => {
    const spoolDir = join(dir, 'b');
    const sink = new FlakySink();
    sink.down = true;
    const first = new ClickHouseExporter({ sink, spoolDir, spoolMaxBytes: 1 << 20, batchMaxRows: 1, batchMaxMs: 10_000, retryMinMs: 60_000 });
    await first.export({ probes: [probe(1), probe(2), probe(3)] });
    await first.forceFlush();
    await first.shutdown();
    sink.down = false;
    const second = new ClickHouseExporter({ sink, spoolDir, spoolMaxBytes: 1 << 20, batchMaxRows: 1, batchMaxMs: 10_000, retryMinMs: 1 });
    expect(await second.drain(5000)).toBe(true);
    expect(second.stats()).toMatchObject({ replayed: 3, duplicatesSkipped: 0 });
    expect(sink.asked).toHaveLength(1);
    expect(sink.landed).toHaveLength(3);
    await second.shutdown();
  });
});
