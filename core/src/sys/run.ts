/**
 * sys: running host commands (ip, tc, nft, wireguard-go). One place so errors read the same.
 */
import { execFile, type ExecFileOptions } from 'node:child_process';
import { errors } from '../errors';

export interface RunOptions {
  /** Written to the command's stdin. */
  input?: string;
  /** Run inside this network namespace (via `ip netns exec`). */
  netns?: string;
  timeoutMs?: number;
}

/** run executes a command and resolves with stdout; a non-zero exit rejects with its stderr. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const [file, argv] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, cmd, ...args]] : [cmd, args];
  const execOpts: ExecFileOptions = { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024 };
  return new Promise((resolve, reject) => {
    const child = execFile(file, argv, execOpts, (err, stdout, stderr) => {
      if (err) {
        reject(errors.commandFailed([file, ...argv].join(' '), String(stderr) || err.message));
        return;
      }
      resolve(String(stdout));
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** runJson runs a command that prints JSON (ip -j, tc -j, nft -j) and parses it; empty output is []. */
export async function runJson<T>(cmd: string, args: string[], opts: RunOptions = {}): Promise<T> {
  const out = (await run(cmd, args, opts)).trim();
  return (out === '' ? [] : JSON.parse(out)) as T;
}

/** tryRun is run() that resolves null instead of rejecting, for probes and idempotent cleanup. */
export async function tryRun(cmd: string, args: string[], opts: RunOptions = {}): Promise<string | null> {
  try {
    return await run(cmd, args, opts);
  } catch {
    return null;
  }
}
