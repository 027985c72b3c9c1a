/**
 * ProbeClock is the time source of the probe scheduler, injectable so tests can drive time.
 */
export interface ProbeClock {
  /** Wall time, unix milliseconds (only for reporting when a probe was sent). */
  now(): number;
  /** Monotonic microseconds (RTTs are measured on this). */
  monoUs(): bigint;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock; timers are unref'd so probing alone never keeps a process alive. */
export const systemProbeClock: ProbeClock = {
  now: () => Date.now(),
  monoUs: () => process.hrtime.bigint() / 1000n,
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
