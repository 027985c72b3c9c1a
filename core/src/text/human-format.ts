/**
 * Human-readable forms of the numbers the CLI prints: bytes, ages, RTTs and loss.
 */

const BYTE_UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** formatBytes prints 1023 as "1023 B" and 1536 as "1.5 KiB" (binary units, 3 significant digits). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '-';
  if (n < 1024) return `${Math.round(n)} B`;
  let v = n;
  let unit = -1;
  while (v >= 1024 && unit < BYTE_UNITS.length - 1) {
    v /= 1024;
    unit++;
  }
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${v.toFixed(digits)} ${BYTE_UNITS[unit]}`;
}

/** formatDuration prints a span in its largest whole units: "850ms", "3s", "2m 5s", "1h 4m", "2d 3h". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  const abs = Math.max(0, ms);
  if (abs < 1000) return `${Math.round(abs)}ms`;
  const s = Math.floor(abs / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m}m` : `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d}d` : `${d}d ${h % 24}h`;
}

/** formatAgo prints how long before now a Unix-ms instant was: "3s ago", "never" for null. */
export function formatAgo(at: number | null, now: number): string {
  if (at === null || at <= 0) return 'never';
  const delta = now - at;
  if (delta < 1000) return 'just now';
  return `${formatDuration(delta)} ago`;
}

/** formatMicros prints a microsecond value as milliseconds with µs precision: 412 → "0.412 ms". */
export function formatMicros(us: number | null): string {
  if (us === null || !Number.isFinite(us)) return '-';
  return `${(us / 1000).toFixed(3)} ms`;
}

/** formatLoss prints a 0..1 fraction as a percentage with one decimal: 0.05 → "5.0%". */
export function formatLoss(fraction: number | null): string {
  if (fraction === null || !Number.isFinite(fraction)) return '-';
  return `${(fraction * 100).toFixed(1)}%`;
}
