import { randomBytes } from 'node:crypto';

const PREFIX = 'trellis-auth-';
const FORMAT = /^trellis-auth-([0-9a-f]{12})-([A-Za-z0-9_-]{43})$/;

/** An auth key as handed to an admin once: trellis-auth-<12 hex id>-<43 base64url secret>. */
export interface AuthKeyParts {
  id: string;
  secret: string;
}

/** newAuthKey makes a fresh id and a 32-byte secret; the caller stores only hashSecret(secret). */
export function newAuthKey(): AuthKeyParts & { key: string } {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, key: `${PREFIX}${id}-${secret}` };
}

/** parseAuthKey splits a presented key; null when it is not in the Trellis format. */
export function parseAuthKey(key: string): AuthKeyParts | null {
  const m = FORMAT.exec(key.trim());
  return m ? { id: m[1], secret: m[2] } : null;
}
