/**
 * Durations as people write them in config files: `30d`, `12h`, `90m`, `45s`, `250ms`, or
 * combinations such as `1h30m`. A bare number is refused: its unit would be a guess.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** parseDurationText reads a duration into ms, or returns null when the text is not one. */
export function parseDurationText(value: string): number | null {
  const v = value.trim();
  if (v === '') return null;
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = part.exec(v)) !== null) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    pos = part.lastIndex;
  }
  return pos === v.length ? Math.round(total) : null;
}

/** formatDurationText writes ms in the largest unit that divides it: 2592000000 → "30d". */
export function formatDurationText(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
