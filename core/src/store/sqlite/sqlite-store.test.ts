/**
 * SqliteStore: the store contract (testing/store-contract.ts, which PostgreSQL runs too) and what
 * only a SQLite file has: WAL mode and a private file.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { defineStoreContract } from '../testing/store-contract';
import { SqliteHarness } from '../testing/sqlite-harness';
import { SQLITE_MIGRATIONS } from './migrations';

const h = new SqliteHarness();
defineStoreContract(h);

describe('SqliteStore file', () => {
  it('records migrations once and keeps the file private, in WAL mode', async () => {
    const s = await h.open();
    expect(await s.schemaVersions()).toEqual(SQLITE_MIGRATIONS.map((m) => m.version));
    await s.close();
    const again = await h.open();
    expect(await again.schemaVersions()).toEqual(SQLITE_MIGRATIONS.map((m) => m.version));
    expect(statSync(join(h.dataDir, 'trellis.db')).mode & 0o777).toBe(0o600);
    const raw = new Database(join(h.dataDir, 'trellis.db'), { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
  });
});
