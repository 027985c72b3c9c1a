/**
 * captureIO is a CliIO that records output, for running commands in process in tests.
 */
import type { CliIO } from '../cli-io';

export interface CapturedIO extends CliIO {
  out: string;
  err: string;
  abort(): void;
}

export function captureIO(env: NodeJS.ProcessEnv = {}): CapturedIO {
  const ac = new AbortController();
  const io: CapturedIO = {
    out: '',
    err: '',
    env,
    isTTY: false,
    shutdown: ac.signal,
    stdout: (t) => {
      io.out += t;
    },
    stderr: (t) => {
      io.err += t;
    },
    abort: () => ac.abort(),
  };
  return io;
}
