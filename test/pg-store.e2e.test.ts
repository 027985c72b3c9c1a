/**
 * PgStore against a real PostgreSQL cluster (Debian's postgresql, initdb + pg_ctl in a temp dir):
 * the whole store contract SQLite passes (store/testing/store-contract.ts), and both backends'
 * schemas compared after migrating: same versions, tables, columns and indexes.
 */
import { PgStore } from '../core/src/store/postgres/pg-store';
import { SqliteHarness } from '../core/src/store/testing/sqlite-harness';
import { defineStoreContract } from '../core/src/store/testing/store-contract';
import { PgHarness } from './support/pg-store-harness';

jest.setTimeout(60_000);

const pg = new PgHarness();
beforeAll(() => pg.start(), 120_000);

defineStoreContract(pg);

describe('one schema in two dialects', () => {
  it('both backends reach the same schema version with the same tables, columns and indexes', async () => {
    const sqlite = new SqliteHarness();
    await sqlite.fresh();
    try {
      const a = await sqlite.open();
      const b = await pg.open();
      expect(sqlite.migrations.map((m) => [m.version, m.name])).toEqual(pg.migrations.map((m) => [m.version, m.name]));
      expect(await b.schemaVersions()).toEqual(await a.schemaVersions());
      const [sa, sb] = [await sqlite.schema(), await pg.schema()];
      expect(Object.keys(sb.tables).sort()).toEqual(Object.keys(sa.tables).sort());
      for (const t of Object.keys(sa.tables)) expect({ table: t, columns: sb.tables[t] }).toEqual({ table: t, columns: sa.tables[t] });
      expect(sb.indexes).toEqual(sa.indexes);
    } finally {
      await sqlite.dispose();
    }
  });

  it('refuses a URL that is not a PostgreSQL database, naming what is wrong', async () => {
    await expect(PgStore.open({ url: 'mysql://x@127.0.0.1/db' })).rejects.toMatchObject({ code: 'TRELLIS_ERR_CONFIG_INVALID', message: expect.stringMatching(/"mysql:" is not a store/) });
    await expect(PgStore.open({ url: 'postgres://trellis@127.0.0.1:5' })).rejects.toMatchObject({ code: 'TRELLIS_ERR_CONFIG_INVALID', message: expect.stringMatching(/names no database/) });
    await expect(PgStore.open({ url: 'postgres://trellis:secret-pw@127.0.0.1:1/trellis' })).rejects.toMatchObject({
      code: 'TRELLIS_ERR_STORE',
      message: expect.stringMatching(/cannot connect to PostgreSQL at postgres:\/\/trellis:\*\*\*@127\.0\.0\.1:1\/trellis .*ECONNREFUSED/),
    });
    await expect(PgStore.open({ url: 'postgres://trellis:secret-pw@127.0.0.1:1/trellis' })).rejects.not.toThrow(/secret-pw/);
  });
});
