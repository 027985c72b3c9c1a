/**
 * CommandRunner: the one door to `tc` and `ip`. Injectable so tests can count the commands an
 * apply ran (a second apply of the same profile must run no mutating command).
 */
import { execFile } from 'node:child_process';
import { shapingErrors } from './errors';

export interface CommandRunner {
  /** Runs argv[0] with the rest as arguments; resolves stdout, rejects with stderr on a non-zero exit. */
  run(argv: readonly string[]): Promise<string>;
}

/** ExecRunner runs commands on this host, or inside a network namespace through `ip netns exec`. */
export class ExecRunner implements CommandRunner {
  constructor(private readonly opts: { netns?: string; timeoutMs?: number } = {}) {}

  run(argv: readonly string[]): Promise<string> {
    const full = this.opts.netns ? ['ip', 'netns', 'exec', this.opts.netns, ...argv] : [...argv];
    return new Promise((resolve, reject) => {
      execFile(full[0], full.slice(1), { timeout: this.opts.timeoutMs ?? 15_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(shapingErrors.tcFailed(argv.join(' '), String(stderr) || err.message));
        else resolve(String(stdout));
      });
    });
  }
}

/** isMutating tells a command that changes the kernel from one that only reads. */
export function isMutating(argv: readonly string[]): boolean {
  const [prog, , verb] = argv[0] === 'tc' ? argv.filter((a) => !a.startsWith('-')) : argv;
  if (prog === 'tc') return ['add', 'change', 'replace', 'del', 'delete', 'link'].includes(verb ?? '');
  if (prog === 'ip') return argv[1] === 'link' && ['add', 'set', 'del', 'delete'].includes(argv[2] ?? '');
  return true;
}

/** RecordingRunner passes commands through and keeps every argv, so tests can count them. */
export class RecordingRunner implements CommandRunner {
  readonly commands: string[][] = [];
  constructor(private readonly inner: CommandRunner) {}

  run(argv: readonly string[]): Promise<string> {
    this.commands.push([...argv]);
    return this.inner.run(argv);
  }

  mutating(): string[][] {
    return this.commands.filter(isMutating);
  }

  clear(): void {
    this.commands.length = 0;
  }
}

/** tryRun is run() that resolves null on failure: for probes and for state that may not exist. */
export async function tryRun(runner: CommandRunner, argv: readonly string[]): Promise<string | null> {
  try {
    return await runner.run(argv);
  } catch {
    return null;
  }
}
