import { expandMacros, interpolateVariables } from './macros';

const ctx = { from: Date.UTC(2024, 0, 2, 10, 0, 0), to: Date.UTC(2024, 0, 2, 16, 0, 0), intervalMs: 30_000 };
const fromS = ctx.from / 1000;
const toS = ctx.to / 1000;

test('time macros expand as grafana-clickhouse-datasource does', () => {
  expect(expandMacros('WHERE $__timeFilter(ts)', ctx)).toBe(`WHERE ts >= toDateTime(${fromS}) AND ts <= toDateTime(${toS})`);
  expect(expandMacros('$__fromTime, $__toTime', ctx)).toBe(`toDateTime(${fromS}), toDateTime(${toS})`);
  expect(expandMacros('$__fromTime_ms', ctx)).toBe(`fromUnixTimestamp64Milli(${ctx.from})`);
  expect(expandMacros('$__timeInterval(ts)', ctx)).toBe('toStartOfInterval(toDateTime(ts), INTERVAL 30 second)');
  expect(expandMacros('intDiv(x, $__interval_s)', { ...ctx, intervalMs: 200 })).toBe('intDiv(x, 1)');
  expect(expandMacros('$__dateFilter(d)', ctx)).toBe("d >= toDate('2024-01-02') AND d <= toDate('2024-01-02')");
});

test('template variables: single, multi with singlequote, escaping', () => {
  expect(interpolateVariables("src = '${node}' AND dst IN (${peer:singlequote})", { node: 'n1', peer: ['n2', "o'k"] })).toBe("src = 'n1' AND dst IN ('n2','o\\'k')");
  expect(interpolateVariables('$node', { node: ['a', 'b'] })).toBe('a,b');
});

test('unknown macros, unknown variables, missing arguments and reversed ranges are errors', () => {
  expect(() => expandMacros('$__nope', ctx)).toThrow(/is not a grafana-clickhouse-datasource macro/);
  expect(() => expandMacros('$node', ctx)).toThrow(/\$node: no value for this template variable/);
  expect(() => expandMacros('$__timeFilter', ctx)).toThrow(/needs a column argument/);
  expect(() => expandMacros('$__timeFilter(a, b)', ctx)).toThrow(/expected 1 argument, received 2/);
  expect(() => expandMacros('x', { ...ctx, from: ctx.to + 1 })).toThrow(/must not be before/);
});
