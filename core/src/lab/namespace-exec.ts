/** Running one command inside a lab node's network namespace, as `trellis lab exec` and the tests do. */
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { errors } from '../errors';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** execInNamespace runs cmd in the namespace; a non-zero exit is a result, not an error. */
export function execInNamespace(ns: string, cmd: string, args: string[] = [], opts: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(errors.lab(`cannot run ${cmd} in ${ns}: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({
        code: code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    // A command that exits before reading its stdin must not crash the caller with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
