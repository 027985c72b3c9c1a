import { gsoSegsFor } from './tc-apply';

describe('gsoSegsFor', () => {
  it('bounds one GSO super-packet to about 1 ms of the link rate', () => {
    // 42 Mbit: 5,250 bytes per ms, three 1420-byte segments.
    expect(gsoSegsFor(42, 1420)).toBe(3);
    // 200 Mbit: 25,000 bytes per ms.
    expect(gsoSegsFor(200, 1420)).toBe(17);
    expect(gsoSegsFor(1000, 1420)).toBe(88);
  });

  it('never goes below one segment or above the kernel limit', () => {
    expect(gsoSegsFor(1, 1420)).toBe(1);
    expect(gsoSegsFor(0.5, 9000)).toBe(1);
    expect(gsoSegsFor(10_000_000, 1420)).toBe(65_535);
  });
});
