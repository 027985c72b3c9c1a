import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyRequest } from 'fastify';
import { estimateEntropyBits, MIN_TOKEN_ENTROPY_BITS } from '../auth/token-entropy';
import { errors } from '../errors';
import { hashSecret, secretMatches } from '../store/secret-hash';
import type { Store } from '../store/store';
import type { AuthFailureLog } from './auth-failure-log';

export const ADMIN_TOKEN_FILE = 'admin.token';
const META_TOKEN_HASH = 'admin.tokenHash';

/**
 * ensureAdminToken decides the admin token at start: the supplied one, else the one in
 * <dataDir>/admin.token, else a new one (32 random bytes, base64url). A token with less than 256
 * bits of estimated entropy (token-entropy.ts) is refused, wherever it came from. The plaintext is
 * (re)written to admin.token with mode 0600 and only its SHA-256 is stored; a changed token is audited.
 */
export async function ensureAdminToken(store: Store, dataDir: string, supplied?: string): Promise<{ token: string; hash: string; file: string }> {
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  let token: string;
  let source: 'option' | 'file' | 'generated';
  if (supplied !== undefined) {
    if (!/^[\x21-\x7e]{16,512}$/.test(supplied)) throw errors.configInvalid('adminToken', 'must be 16 to 512 printable characters without spaces');
    token = supplied;
    source = 'option';
  } else {
    const onDisk = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
    if (onDisk !== '' && !/^[\x21-\x7e]{1,512}$/.test(onDisk)) throw errors.configInvalid(file, 'must hold one token of at most 512 printable characters without spaces');
    token = onDisk || generateToken();
    source = onDisk ? 'file' : 'generated';
  }
  const bits = estimateEntropyBits(token);
  if (bits < MIN_TOKEN_ENTROPY_BITS) throw errors.adminTokenWeak(source === 'file' ? file : 'the adminToken option (flag or environment)', bits);
  const hash = hashSecret(token);
  if ((await store.getMeta(META_TOKEN_HASH)) !== hash) {
    await store.setMeta(META_TOKEN_HASH, hash, { action: 'admin.token.set', actor: 'controller', details: { source } });
  }
  if (source !== 'file') writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { token, hash, file };
}

/**
 * generateToken is 32 random bytes in base64url (43 characters). The rare draw whose characters
 * span too few classes to pass the entropy estimate (no digit, say) is drawn again, so a generated
 * token is never one the controller would refuse if it were given.
 */
function generateToken(): string {
  for (;;) {
    const token = randomBytes(32).toString('base64url');
    if (estimateEntropyBits(token) >= MIN_TOKEN_ENTROPY_BITS) return token;
  }
}

/** AdminGuard checks `Authorization: Bearer <token>` against the stored hash in constant time. */
export class AdminGuard {
  constructor(private readonly tokenHash: string) {}

  verify(authorization: string | undefined): boolean {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    return m !== null && secretMatches(m[1], this.tokenHash);
  }
}

/**
 * requireAdmin is the onRequest hook of every admin route scope: it checks the Bearer token before
 * the body is read, and records each refusal (audited, counted per source).
 */
export function requireAdmin(s: { admin: AdminGuard; trust: { failures: Pick<AuthFailureLog, 'failed'> } }): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    if (s.admin.verify(request.headers.authorization)) return;
    const err = errors.adminUnauthorized();
    await s.trust.failures.failed({ source: request.ip, route: `${request.method} ${request.routeOptions.url ?? 'unknown'}`, code: err.code });
    throw err;
  };
}
