/**
 * verifySqliteAuditOffline checks the audit chain of a data dir's trellis.db without a running
 * controller and without writing to it (opened read-only, no migrations).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { errors } from '../../errors';
import type { AuditVerifyReport } from '../../wire';
import { SqliteAuditRepository } from './sqlite-audit-repository';

export async function verifySqliteAuditOffline(dataDir: string, publicKey: string | null): Promise<AuditVerifyReport> {
  const path = join(dataDir, 'trellis.db');
  if (!existsSync(path)) throw errors.store(`${path} does not exist; pass the controller's --data-dir`);
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return await new SqliteAuditRepository(db).verifyAudit(publicKey);
  } finally {
    db.close();
  }
}
