/**
 * macros: expands a panel or alert query the way Grafana and grafana-clickhouse-datasource do, so
 * tests, the benchmark and the controller (evaluating alert conditions live) run exactly what
 * Grafana would. Grafana first interpolates template variables ($var, ${var}, ${var:singlequote},
 * ${var:csv}, ${var:sqlstring}); the plugin then expands its macros (pkg/macros/macros.go):
 *   $__timeFilter(c)   c >= toDateTime(from_s) AND c <= toDateTime(to_s)
 *   $__timeFilter_ms(c) the same with fromUnixTimestamp64Milli(ms)
 *   $__fromTime / $__toTime           toDateTime(from_s) / toDateTime(to_s)
 *   $__fromTime_ms / $__toTime_ms     fromUnixTimestamp64Milli(ms)
 *   $__dateFilter(c)   c >= toDate('YYYY-MM-DD') AND c <= toDate('YYYY-MM-DD')
 *   $__timeInterval(c) toStartOfInterval(toDateTime(c), INTERVAL n second), n = max(interval_s, 1)
 *   $__interval_s      n
 * Our queries use $__interval_s rather than $__timeInterval because ClickHouse 18.16 has no
 * toStartOfInterval; the expander still implements it for completeness.
 */
import { dashboardsErrors } from './errors';

export interface MacroContext {
  /** Epoch ms. */
  from: number;
  /** Epoch ms. */
  to: number;
  /** Grafana's $__interval in ms (time range / max data points, rounded). */
  intervalMs: number;
  /** Template variables: one value, or several for a multi-value variable. */
  variables?: Record<string, string | string[]>;
}

const sec = (ms: number) => Math.floor(ms / 1000);
const date = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const sqlQuote = (v: string) => "'" + v.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";

function formatVariable(name: string, value: string | string[], format: string | undefined): string {
  const values = Array.isArray(value) ? value : [value];
  switch (format) {
    case undefined:
    case 'raw':
    case 'csv':
      return values.join(',');
    case 'singlequote':
    case 'sqlstring':
      return values.map(sqlQuote).join(',');
    case 'doublequote':
      return values.map((v) => `"${v.replace(/"/g, '\\"')}"`).join(',');
    default:
      throw dashboardsErrors.macroInvalid(`\${${name}:${format}}`, 'unsupported variable format; use singlequote, sqlstring, csv or raw');
  }
}

/** interpolateVariables replaces Grafana template variables; an unknown variable is an error, not a silent blank. */
export function interpolateVariables(sql: string, variables: Record<string, string | string[]> = {}): string {
  return sql.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (all, braced, format, bare) => {
    const name = (braced ?? bare) as string;
    if (name.startsWith('__')) return all;
    if (!(name in variables)) throw dashboardsErrors.macroInvalid(`$${name}`, 'no value for this template variable');
    return formatVariable(name, variables[name]!, format as string | undefined);
  });
}

function oneArg(name: string, args: string[]): string {
  if (args.length !== 1 || args[0]!.trim() === '') throw dashboardsErrors.macroInvalid(`$__${name}`, `expected 1 argument, received ${args.length}`);
  return args[0]!.trim();
}

/** expandMacros interpolates variables, then the datasource's $__ macros. */
export function expandMacros(sql: string, ctx: MacroContext): string {
  if (!(ctx.to >= ctx.from)) throw dashboardsErrors.macroInvalid('time range', `"to" (${ctx.to}) must not be before "from" (${ctx.from})`);
  const withVars = interpolateVariables(sql, ctx.variables);
  const intervalS = Math.max(Math.floor(ctx.intervalMs / 1000), 1);
  const intervalMs = Math.max(Math.floor(ctx.intervalMs), 1);
  const fns: Record<string, (args: string[]) => string> = {
    timeFilter: (a) => {
      const c = oneArg('timeFilter', a);
      return `${c} >= toDateTime(${sec(ctx.from)}) AND ${c} <= toDateTime(${sec(ctx.to)})`;
    },
    timeFilter_ms: (a) => {
      const c = oneArg('timeFilter_ms', a);
      return `${c} >= fromUnixTimestamp64Milli(${ctx.from}) AND ${c} <= fromUnixTimestamp64Milli(${ctx.to})`;
    },
    dateFilter: (a) => {
      const c = oneArg('dateFilter', a);
      return `${c} >= toDate('${date(ctx.from)}') AND ${c} <= toDate('${date(ctx.to)}')`;
    },
    timeInterval: (a) => `toStartOfInterval(toDateTime(${oneArg('timeInterval', a)}), INTERVAL ${intervalS} second)`,
    timeInterval_ms: (a) => `toStartOfInterval(toDateTime64(${oneArg('timeInterval_ms', a)}, 3), INTERVAL ${intervalMs} millisecond)`,
  };
  const plain: Record<string, string> = {
    fromTime_ms: `fromUnixTimestamp64Milli(${ctx.from})`,
    toTime_ms: `fromUnixTimestamp64Milli(${ctx.to})`,
    fromTime: `toDateTime(${sec(ctx.from)})`,
    toTime: `toDateTime(${sec(ctx.to)})`,
    interval_s: String(intervalS),
  };
  return withVars.replace(/\$__([A-Za-z_]+)(\(([^()]*)\))?/g, (all, name: string, call: string | undefined, args: string | undefined) => {
    if (name in fns) {
      if (call === undefined) throw dashboardsErrors.macroInvalid(`$__${name}`, 'needs a column argument, e.g. $__timeFilter(ts)');
      return fns[name]!(args!.split(','));
    }
    if (name in plain) return plain[name]! + (call ?? '');
    throw dashboardsErrors.macroInvalid(all, 'is not a grafana-clickhouse-datasource macro');
  });
}
