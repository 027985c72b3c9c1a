import { createHash } from 'node:crypto';
import { POSTGRES_MIGRATIONS } from './postgres/pg-migrations';
import { SQLITE_MIGRATIONS } from './sqlite/migrations';

/**
 * What each dialect's steps say, as databases already ran them (SHA-256 of the SQL, first 16 hex
 * digits). A step is never edited once applied: a change to a step, or to a dialect's words, that
 * alters the SQL of an existing step fails here. A new step adds its line.
 */
const APPLIED: Array<[version: number, sqlite: string, postgres: string]> = [
  [1, 'c0b8ca0de3151434', 'a27e1aaada0f063e'],
  [2, 'fa7b6b18558771eb', '41c74115d649de76'],
  [3, 'afa0f565f7b0319a', '38334e7919585402'],
  [4, 'e7574d1973df4027', 'e7574d1973df4027'],
  [5, '570d07ec644d3d2c', '26d4188ca685d9c1'],
  [6, '654bb6351da18151', '07cfb73c9ca2ca06'],
  [7, 'dd30e2eaa9af4ea9', 'c1129b5c4f4f726e'],
  [8, '2def405faddf9ffe', '2def405faddf9ffe'],
  [9, '0c9269593b12a347', '23008f576171d051'],
];

const digest = (sql: string) => createHash('sha256').update(sql).digest('hex').slice(0, 16);

describe('schema migrations', () => {
  it('give SQLite and PostgreSQL the same steps, versions and names, in order', () => {
    expect(POSTGRES_MIGRATIONS.map((m) => [m.version, m.name])).toEqual(SQLITE_MIGRATIONS.map((m) => [m.version, m.name]));
    expect(SQLITE_MIGRATIONS.map((m) => m.version)).toEqual(SQLITE_MIGRATIONS.map((_, i) => i + 1));
  });

  it('keep every applied step exactly as databases ran it, in both dialects', () => {
    const versions = APPLIED.map(([v]) => v);
    expect(SQLITE_MIGRATIONS.filter((m) => versions.includes(m.version)).map((m, i) => [m.version, digest(m.sql), digest(POSTGRES_MIGRATIONS[i].sql)])).toEqual(APPLIED);
  });

  it('speak each dialect only: no SQLite words in PostgreSQL steps, no PostgreSQL words in SQLite steps', () => {
    for (const m of POSTGRES_MIGRATIONS) expect(m.sql).not.toMatch(/\bWITHOUT ROWID\b|\bINSERT OR IGNORE\b|\bAUTOINCREMENT\b|\bBLOB\b|\bINTEGER\b/);
    for (const m of SQLITE_MIGRATIONS) expect(m.sql).not.toMatch(/\bON CONFLICT\b|\bBIGINT\b|\bBYTEA\b|\bplpgsql\b|\bIDENTITY\b/);
  });
});
