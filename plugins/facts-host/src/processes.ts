/**
 * Processes: the names (comm) of running processes, from /proc. Scope "netns" keeps only the
 * processes in the agent's own network namespace, for hosts that run several nodes side by side
 * (the lab); "host" sees every process the agent may read.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

export type ProcessScope = 'host' | 'netns';

/** listProcessNames returns the sorted, distinct names of running processes under procDir. */
export async function listProcessNames(procDir = '/proc', scope: ProcessScope = 'host'): Promise<string[]> {
  let entries: string[];
  try {
    entries = await fs.readdir(procDir);
  } catch {
    return [];
  }
  const ownNs = scope === 'netns' ? await fs.readlink(join(procDir, 'self', 'ns', 'net')).catch(() => null) : null;
  const names = new Set<string>();
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (pid) => {
        try {
          if (ownNs !== null && (await fs.readlink(join(procDir, pid, 'ns', 'net'))) !== ownNs) return;
          const comm = (await fs.readFile(join(procDir, pid, 'comm'), 'utf8')).replace(/\n$/, '');
          if (comm !== '') names.add(comm);
        } catch {
          // the process exited while we looked, or is not ours to read
        }
      }),
  );
  return [...names].sort();
}

export interface ProcessWatcherOptions {
  /** Poll interval, ms. Default 500. */
  intervalMs?: number;
  procDir?: string;
  scope?: ProcessScope;
  /** Called with the new name set whenever it differs from the last one. */
  onChange: (names: string[]) => void;
  onError?: (err: unknown) => void;
}

/**
 * ProcessWatcher polls the process names and calls onChange when the set changes, so a forbidden
 * process is reported within one interval instead of at the next 30 s facts round.
 */
export class ProcessWatcher {
  private timer: NodeJS.Timeout | null = null;
  private last: string | null = null;
  private running = false;

  constructor(private readonly opts: ProcessWatcherOptions) {}

  /** start takes the first snapshot (no onChange for it) and begins polling. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.last = (await this.snapshot()).join('\n');
    this.schedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private snapshot(): Promise<string[]> {
    return listProcessNames(this.opts.procDir, this.opts.scope);
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => void this.tick(), this.opts.intervalMs ?? 500);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      const names = await this.snapshot();
      const key = names.join('\n');
      if (this.running && key !== this.last) {
        this.last = key;
        this.opts.onChange(names);
      }
    } catch (err) {
      this.opts.onError?.(err);
    }
    this.schedule();
  }
}
