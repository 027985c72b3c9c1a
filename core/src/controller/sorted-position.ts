/**
 * sortedPosition is the one binary search over the controller's sorted lists (nodes and peers by
 * id, a grant's source prefixes): the index of the first element whose key is not below `key`,
 * which is where `key` stands or would be inserted.
 */
export function sortedPosition<T>(list: readonly T[], key: string, keyOf: (x: T) => string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keyOf(list[mid]!) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
