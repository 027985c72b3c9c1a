import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-file';

/** Seqs one probe run may use: the probe wire seq is a uint32. */
export const SEQ_RUN_SPAN = 2 ** 32;

export const SEQ_FILE = 'telemetry-seq.json';

/**
 * SeqEpoch hands out the base added to a probe run's wire seq (which restarts at 1 each run), so a
 * probe row's seq is unique per (src, dst) across agent restarts. The base is the later of the
 * wall clock in µs (so a wiped state dir still starts above older runs) and the persisted end of
 * the previous run's range (so a clock that steps back cannot reuse seqs). The new range's end is
 * written (fsynced, atomically) before the base is used.
 */
export class SeqEpoch {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly stateDir: string,
    private readonly clock: () => number = Date.now,
  ) {}

  /** allocate reserves [base+1, base+SEQ_RUN_SPAN] for one probe run and returns base. */
  allocate(): Promise<number> {
    const next = this.chain.then(() => this.allocateNow());
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async allocateNow(): Promise<number> {
    const file = join(this.stateDir, SEQ_FILE);
    let floor = 0;
    try {
      const doc = JSON.parse(await fs.readFile(file, 'utf8')) as { nextBase?: unknown };
      if (typeof doc.nextBase === 'number' && Number.isSafeInteger(doc.nextBase) && doc.nextBase > 0) floor = doc.nextBase;
    } catch {
      // missing or unreadable: the clock alone keeps bases increasing
    }
    const base = Math.max(Math.floor(this.clock()) * 1000, floor);
    await writeFileAtomic(file, JSON.stringify({ nextBase: base + SEQ_RUN_SPAN }) + '\n');
    return base;
  }
}
