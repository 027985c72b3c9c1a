import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyRequest } from 'fastify';
import { errors } from '../errors';
import { hashSecret, secretMatches } from '../store/secret-hash';
import type { AuditEntry, Store } from '../store/store';

export const ADMIN_TOKEN_FILE = 'admin.token';
const META_TOKEN_HASH = 'admin.tokenHash';

/**
 * ensureAdminToken decides the admin token at start: the supplied one, else the one in
 * <dataDir>/admin.token, else a new one (32 random bytes, base64url). The plaintext is (re)written
 * to admin.token with mode 0600 and only its SHA-256 is stored; a changed token is audited.
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
    token = onDisk || randomBytes(32).toString('base64url');
    source = onDisk ? 'file' : 'generated';
  }
  const hash = hashSecret(token);
  if ((await store.getMeta(META_TOKEN_HASH)) !== hash) {
    await store.setMeta(META_TOKEN_HASH, hash, { action: 'admin.token.set', actor: 'controller', details: { source } });
  }
  if (source !== 'file') writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { token, hash, file };
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
 * the body is read, and audits each refusal.
 */
export function requireAdmin(s: { admin: AdminGuard; audit(entry: AuditEntry): Promise<void> }): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    if (s.admin.verify(request.headers.authorization)) return;
    await s.audit({
      action: 'auth.failure',
      actor: `remote:${request.ip}`,
      details: { code: errors.adminUnauthorized().code, remote: request.ip, route: `${request.method} ${request.url.split('?')[0].slice(0, 128)}` },
    });
    throw errors.adminUnauthorized();
  };
}
