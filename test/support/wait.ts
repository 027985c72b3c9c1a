/** waitFor polls fn until it returns a truthy value or the deadline passes; it returns the value and the time taken. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  timeoutMs: number,
  intervalMs = 50,
): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  let lastErr: unknown = null;
  for (;;) {
    try {
      const v = await fn();
      if (v) return { value: v as T, ms: Date.now() - start };
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() - start > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${(lastErr as Error).message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
