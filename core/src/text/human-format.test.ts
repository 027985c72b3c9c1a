import { formatAgo, formatBytes, formatDuration, formatLoss, formatMicros } from './human-format';

describe('human formats', () => {
  it('formatBytes uses binary units with three significant digits', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.00 KiB');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(15 * 1024 + 512)).toBe('15.5 KiB');
    expect(formatBytes(300 * 1024 * 1024)).toBe('300 MiB');
    expect(formatBytes(5 * 1024 ** 4)).toBe('5.00 TiB');
    expect(formatBytes(-1)).toBe('-');
  });

  it('formatDuration keeps the two largest units', () => {
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(3_000)).toBe('3s');
    expect(formatDuration(125_000)).toBe('2m 5s');
    expect(formatDuration(3_600_000)).toBe('1h');
    expect(formatDuration(3_840_000)).toBe('1h 4m');
    expect(formatDuration(2 * 86_400_000 + 3 * 3_600_000)).toBe('2d 3h');
  });

  it('formatAgo reads relative to now', () => {
    const now = 1_700_000_000_000;
    expect(formatAgo(now - 3_400, now)).toBe('3s ago');
    expect(formatAgo(now - 200, now)).toBe('just now');
    expect(formatAgo(now - 65_000, now)).toBe('1m 5s ago');
    expect(formatAgo(null, now)).toBe('never');
  });

  it('formatMicros prints ms with µs precision', () => {
    expect(formatMicros(412)).toBe('0.412 ms');
    expect(formatMicros(12_345)).toBe('12.345 ms');
    expect(formatMicros(null)).toBe('-');
  });

  it('formatLoss prints a percentage', () => {
    expect(formatLoss(0)).toBe('0.0%');
    expect(formatLoss(0.05)).toBe('5.0%');
    expect(formatLoss(1)).toBe('100.0%');
  });
});
