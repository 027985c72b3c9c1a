import fc from 'fast-check';
import { sortedPosition } from './sorted-position';

const self = (s: string) => s;

describe('sortedPosition', () => {
  it('finds an element present and where an absent one goes', () => {
    const list = ['a', 'c', 'e'];
    expect(sortedPosition(list, 'c', self)).toBe(1);
    expect(sortedPosition(list, 'a', self)).toBe(0);
    expect(sortedPosition(list, 'b', self)).toBe(1);
    expect(sortedPosition(list, 'f', self)).toBe(3);
    expect(sortedPosition([], 'x', self)).toBe(0);
    expect(sortedPosition([{ id: 'n1' }, { id: 'n2' }], 'n2', (n) => n.id)).toBe(1);
  });

  it('agrees with a linear scan on any sorted list', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string()), fc.string(), (xs, key) => {
        const list = [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const linear = list.findIndex((x) => !(x < key));
        expect(sortedPosition(list, key, self)).toBe(linear === -1 ? list.length : linear);
      }),
    );
  });
});
