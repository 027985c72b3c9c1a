/**
 * Token strength as length × log2(alphabet), where the alphabet is the union of the character
 * classes the token uses (lower-case 26, upper-case 26, digits 10, other printable ASCII 32). It is
 * an upper bound for a random token and generous to a chosen one, so a token below the bar is
 * surely too weak.
 */
export const MIN_TOKEN_ENTROPY_BITS = 256;

export function estimateEntropyBits(token: string): number {
  let alphabet = 0;
  if (/[a-z]/.test(token)) alphabet += 26;
  if (/[A-Z]/.test(token)) alphabet += 26;
  if (/[0-9]/.test(token)) alphabet += 10;
  if (/[^a-zA-Z0-9]/.test(token)) alphabet += 32;
  return alphabet === 0 ? 0 : token.length * Math.log2(alphabet);
}
