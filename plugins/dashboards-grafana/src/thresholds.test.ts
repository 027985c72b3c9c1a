import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DashboardsErrorCode } from './errors';
import { DEFAULT_THRESHOLDS, loadThresholds, resolveThresholds, rttLimitMs } from './thresholds';

const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return { code: (err as { code: string }).code, message: (err as Error).message };
  }
  throw new Error('expected an error');
};

test('no overrides gives the shipped defaults', () => {
  expect(resolveThresholds(undefined)).toEqual(DEFAULT_THRESHOLDS);
  expect(DEFAULT_THRESHOLDS.handshakeMaxAgeSeconds).toBe(180);
  expect(DEFAULT_THRESHOLDS.lossMaxPercent).toBe(2);
  expect(DEFAULT_THRESHOLDS.jitterMaxMs).toBe(30);
});

test('overrides layer over the defaults and per-path RTT limits resolve most specific first', () => {
  const t = resolveThresholds({ lossMaxPercent: 5, rttP95PathMs: { 'a->b': 40, 'a->b:relay-1': 90 } });
  expect(t.lossMaxPercent).toBe(5);
  expect(t.jitterMaxMs).toBe(30);
  expect(rttLimitMs(t, 'a', 'b', 'relay-1')).toBe(90);
  expect(rttLimitMs(t, 'a', 'b', 'direct')).toBe(40);
  expect(rttLimitMs(t, 'b', 'a', 'direct')).toBe(150);
});

test.each([
  [{ lossMaxPercent: -1 }, /"lossMaxPercent" must be a percentage/],
  [{ lossMaxPercent: 150 }, /"lossMaxPercent" must be a percentage greater than 0 and at most 100, got 150/],
  [{ jitterMaxMs: 0 }, /"jitterMaxMs" must be a number greater than 0/],
  [{ handshakeMaxAgeSeconds: 1.5 }, /"handshakeMaxAgeSeconds" must be whole seconds/],
  [{ lossMaxPrecent: 3 }, /"lossMaxPrecent" is not a known threshold/],
  [{ rttP95PathMs: { 'a-b': 4 } }, /"rttP95PathMs.a-b" is not a "src->dst"/],
  [{ rttP95PathMs: { 'a->b': -4 } }, /"rttP95PathMs.a->b" must be milliseconds greater than 0/],
  [{ realtimePaths: ['a'] }, /"realtimePaths" must be a list of "src->dst" patterns/],
  [{ webhookUrl: 'ftp://x' }, /"webhookUrl" must be an http\(s\) URL/],
  [[1], /"\(root\)" must be an object/],
])('bad thresholds %j are refused with a clear error', (input, msg) => {
  const e = codeOf(() => resolveThresholds(input, 'thresholds.yaml'));
  expect(e.code).toBe(DashboardsErrorCode.THRESHOLDS_INVALID);
  expect(e.message).toMatch(/^alert thresholds thresholds.yaml: /);
  expect(e.message).toMatch(msg);
});

test('YAML and JSON files load; a broken file names itself', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-thr-'));
  try {
    writeFileSync(join(dir, 't.yaml'), 'lossMaxPercent: 3\nrealtimePaths: ["*->voip-gw"]\n');
    expect(loadThresholds(join(dir, 't.yaml'))).toMatchObject({ lossMaxPercent: 3, realtimePaths: ['*->voip-gw'] });
    writeFileSync(join(dir, 't.json'), '{"jitterMaxMs": 20}');
    expect(loadThresholds(join(dir, 't.json')).jitterMaxMs).toBe(20);
    writeFileSync(join(dir, 'bad.json'), '{');
    expect(codeOf(() => loadThresholds(join(dir, 'bad.json'))).message).toMatch(/bad.json: "\(file\)" is not valid JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
