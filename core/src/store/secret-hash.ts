import { createHash, timingSafeEqual } from 'node:crypto';

/** hashSecret is how auth-key secrets and the admin token are kept: SHA-256, hex. Plaintext is never stored. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** secretMatches compares a presented secret with a stored hash in constant time. */
export function secretMatches(secret: string, storedHashHex: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHashHex, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
