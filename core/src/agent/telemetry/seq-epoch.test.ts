import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SEQ_RUN_SPAN, SeqEpoch } from './seq-epoch';

describe('SeqEpoch', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'trellis-seq-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives every run (and every restart) a disjoint seq range, even when the clock steps back', async () => {
    let now = 1_700_000_000_000;
    const ranges: Array<[number, number]> = [];
    for (let restart = 0; restart < 3; restart++) {
      const epoch = new SeqEpoch(dir, () => now); // a new agent process each time
      for (let run = 0; run < 2; run++) {
        const base = await epoch.allocate();
        ranges.push([base + 1, base + SEQ_RUN_SPAN]);
      }
      now -= 60_000; // the clock steps back between restarts
    }
    ranges.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThan(ranges[i - 1]![1]);
    for (const [, hi] of ranges) expect(Number.isSafeInteger(hi)).toBe(true);
  });

  it('starts above older runs from the clock alone when the state dir was wiped', async () => {
    const a = await new SeqEpoch(dir, () => 1_700_000_000_000).allocate();
    rmSync(join(dir, 'telemetry-seq.json'));
    const b = await new SeqEpoch(dir, () => 1_700_000_010_000).allocate();
    // 10 s later; a run probing once a second used at most ~10 seqs of its range.
    expect(b).toBeGreaterThan(a + 10);
  });

  it('serializes concurrent allocations', async () => {
    const epoch = new SeqEpoch(dir, () => 1_700_000_000_000);
    const bases = await Promise.all([epoch.allocate(), epoch.allocate(), epoch.allocate()]);
    expect(new Set(bases).size).toBe(3);
  });
});
