import { errors } from '../errors';
import type { AuthKeyRecord } from './store';

/**
 * checkAuthKeyUsable is the rule every store applies before an auth key may enroll a node
 * (the secret was already matched). Throws the ENROLL_KEY_* error that says why not.
 */
export function checkAuthKeyUsable(key: AuthKeyRecord, now: number): void {
  if (key.revoked) throw errors.enrollKeyRevoked();
  if (key.expiresAt <= now) throw errors.enrollKeyExpired(key.expiresAt);
  if (!key.reusable && key.uses > 0) throw errors.enrollKeyUsed();
}
