/**
 * Prometheus names for OpenTelemetry instruments and attributes, after the OpenTelemetry
 * Prometheus compatibility rules: invalid characters become `_`, the unit is appended in words
 * when the name does not already end with it, and counters end in `_total`. Prometheus wants base
 * units, so multiples of seconds and bytes are served in seconds and bytes (baseUnit gives the
 * factor). Core's instruments are already named this way (trellis_probe_rtt_seconds,
 * trellis_probes_total) and pass through unchanged; a plugin's `http.duration` in `ms` becomes
 * `http_duration_seconds`, its values divided by 1000.
 */

/** Multiples of a base unit: served in the base unit, values times factor. */
const TO_BASE: Record<string, { unit: string; factor: number }> = {
  ms: { unit: 's', factor: 1e-3 },
  us: { unit: 's', factor: 1e-6 },
  ns: { unit: 's', factor: 1e-9 },
  min: { unit: 's', factor: 60 },
  h: { unit: 's', factor: 3600 },
  d: { unit: 's', factor: 86_400 },
  KiBy: { unit: 'By', factor: 1024 },
  MiBy: { unit: 'By', factor: 1024 ** 2 },
  GiBy: { unit: 'By', factor: 1024 ** 3 },
  KBy: { unit: 'By', factor: 1e3 },
  MBy: { unit: 'By', factor: 1e6 },
  GBy: { unit: 'By', factor: 1e9 },
};

/** baseUnit gives the unit a value is served in and the factor to get there (1 for base units). */
export function baseUnit(unit: string | undefined): { unit: string | undefined; factor: number } {
  const b = unit !== undefined ? TO_BASE[unit.trim()] : undefined;
  return b ?? { unit, factor: 1 };
}

/** OpenTelemetry (UCUM) units and their Prometheus words. */
const UNIT_WORDS: Record<string, string> = {
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  min: 'minutes',
  h: 'hours',
  d: 'days',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  bit: 'bits',
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  Cel: 'celsius',
  Hz: 'hertz',
  '%': 'percent',
};

/** unitWord is the Prometheus suffix of a UCUM unit ("" for none, annotations like {packets}, or 1). */
export function unitWord(unit: string | undefined, kind: 'counter' | 'gauge' | 'histogram'): string {
  if (!unit) return '';
  const u = unit.replace(/\{[^}]*\}/g, '').trim();
  if (u === '') return '';
  if (u === '1') return kind === 'gauge' ? 'ratio' : '';
  const per = u.split('/');
  if (per.length === 2) {
    const [a, b] = per as [string, string];
    const wa = a === '' || a === '1' ? '' : (UNIT_WORDS[a] ?? sanitize(a));
    const wb = UNIT_WORDS[b] ?? sanitize(b);
    return wa === '' ? `per_${singular(wb)}` : `${wa}_per_${singular(wb)}`;
  }
  return UNIT_WORDS[u] ?? sanitize(u);
}

const singular = (w: string) => (w.endsWith('s') ? w.slice(0, -1) : w);
const sanitize = (s: string) => s.replace(/[^a-zA-Z0-9_]/g, '_');

/** metricName gives the Prometheus family name of an instrument (in its base unit, see baseUnit). */
export function metricName(name: string, unit: string | undefined, kind: 'counter' | 'gauge' | 'histogram'): string {
  unit = baseUnit(unit).unit;
  let base = name.replace(/[^a-zA-Z0-9_:]/g, '_').replace(/_{2,}/g, '_');
  if (/^[0-9]/.test(base)) base = `_${base}`;
  if (kind === 'counter' && base.endsWith('_total')) base = base.slice(0, -'_total'.length);
  const word = unitWord(unit, kind);
  if (word !== '' && !base.endsWith(`_${word}`)) base = `${base}_${word}`;
  return kind === 'counter' ? `${base}_total` : base;
}

/** labelName turns an attribute key into a label name (dots to `_`, no leading digit, no `__` prefix). */
export function labelName(key: string): string {
  let n = key.replace(/[^a-zA-Z0-9_]/g, '_');
  if (/^[0-9]/.test(n)) n = `key_${n}`;
  if (n.startsWith('__')) n = `key${n}`;
  return n;
}

/** labelValue renders an attribute value (string, number, boolean or an array of them). */
export function labelValue(v: unknown): string {
  if (Array.isArray(v)) return JSON.stringify(v);
  return String(v);
}
