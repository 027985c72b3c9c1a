/**
 * CliIO is everything a command touches outside its arguments, so tests can run commands in
 * process with captured output instead of spawning them.
 */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  env: NodeJS.ProcessEnv;
  /** Whether stdout is a terminal (the demo waits for Ctrl-C only on one). */
  isTTY: boolean;
  /** Aborted on SIGINT/SIGTERM; foreground commands shut down cleanly when it fires. */
  shutdown: AbortSignal;
}

/** processIO wires a CliIO to the real process; the returned signal fires on SIGINT or SIGTERM. */
export function processIO(): CliIO {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) {
      // A second Ctrl-C means "now": leave without the clean shutdown.
      process.exit(130);
    }
    ac.abort(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A reader that goes away (`trellis lab demo | head`) must not crash a command mid-way: the demo
  // still has to tear its lab down. Later writes to a closed stream are dropped.
  const open = { stdout: true, stderr: true };
  process.stdout.on('error', () => (open.stdout = false));
  process.stderr.on('error', () => (open.stderr = false));
  return {
    stdout: (t) => void (open.stdout && process.stdout.write(t)),
    stderr: (t) => void (open.stderr && process.stderr.write(t)),
    env: process.env,
    isTTY: Boolean(process.stdout.isTTY),
    shutdown: ac.signal,
  };
}

/**
 * waitForAbort resolves when the signal fires (at once if it already has). It holds the event loop
 * open meanwhile: a signal listener alone does not, and node would exit mid-wait.
 */
export function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  const keepAlive = setInterval(() => undefined, 1 << 30);
  return new Promise((resolve) =>
    signal.addEventListener(
      'abort',
      () => {
        clearInterval(keepAlive);
        resolve();
      },
      { once: true },
    ),
  );
}
