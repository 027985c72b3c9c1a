/**
 * fetchFailureReason says why a fetch() call rejected. Node's fetch only says "fetch failed"; the
 * cause (ECONNREFUSED, ENOTFOUND, a timeout) is what an operator needs to act on.
 */
export function fetchFailureReason(err: unknown): string {
  const e = err as { cause?: { code?: string; message?: string }; message?: string } | null;
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}
