/**
 * TabSeparated encoding of insert blocks. ClickHouse parses TSV faster than JSONEachRow (no key
 * names to match per row), every server version we support reads it (18.16 has no
 * JSONCompactEachRow), and encoding a whole block into one string here is far cheaper than the
 * client's JSON.stringify per row. The block id is written from the block, not stored in each row.
 */
import { clickhouseErrors } from './errors';
import type { DbRow, TableName } from './rows';
import { RAW_TABLE_SPECS } from './schema';

type ColumnKind = 'number' | 'string' | 'strings' | 'block';

interface TableLayout {
  /** Column names in INSERT order (the table's declared order). */
  columns: string[];
  kinds: ColumnKind[];
}

function kindOf(name: string, type: string): ColumnKind {
  if (name === 'block_id') return 'block';
  if (type === 'String' || type === 'Name') return 'string';
  if (type === 'Array(String)') return 'strings';
  if (/^(U?Int(8|16|32|64)|DateTime)$/.test(type)) return 'number';
  throw new Error(`tab-separated: no encoding for column ${name} of type ${type}`);
}

const LAYOUTS = new Map<TableName, TableLayout>(
  (Object.keys(RAW_TABLE_SPECS) as TableName[]).map((t) => {
    const cols = RAW_TABLE_SPECS[t].columns;
    return [t, { columns: cols.map(([c]) => c), kinds: cols.map(([c, type]) => kindOf(c, type)) }];
  }),
);

/** tableColumns lists a raw table's columns in the order encodeBlock writes them. */
export function tableColumns(table: TableName): string[] {
  return [...layout(table).columns];
}

function layout(table: TableName): TableLayout {
  const l = LAYOUTS.get(table);
  if (!l) throw new Error(`tab-separated: unknown table ${table}`);
  return l;
}

const TSV_SPECIAL = /[\\\t\n\r\0]/;
const TSV_SPECIAL_ALL = /[\\\t\n\r\0]/g;
const TSV_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };
const QUOTED_SPECIAL_ALL = /[\\'\t\n\r\0]/g;
const QUOTED_ESCAPES: Record<string, string> = { ...TSV_ESCAPES, "'": "\\'" };

/** escapeTsv escapes a string field: backslash, tab, newline, CR and NUL. */
export function escapeTsv(s: string): string {
  return TSV_SPECIAL.test(s) ? s.replace(TSV_SPECIAL_ALL, (c) => TSV_ESCAPES[c]!) : s;
}

/** arrayTsv writes Array(String) as ClickHouse's text form ['a','b'], elements quoted and escaped. */
export function arrayTsv(values: readonly string[]): string {
  let out = '[';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    out += "'" + String(values[i]).replace(QUOTED_SPECIAL_ALL, (c) => QUOTED_ESCAPES[c]!) + "'";
  }
  return out + ']';
}

/**
 * encodeBlock writes rows as TabSeparated lines in tableColumns(table) order, with blockId in the
 * block_id column. A row missing a column is a bug upstream (toDbRows fills every column), so it
 * throws rather than inserting a default.
 */
export function encodeBlock(table: TableName, rows: readonly DbRow[], blockId: string): string {
  if (table === 'probe_samples') return encodeProbeBlock(rows, escapeTsv(blockId));
  const { columns, kinds } = layout(table);
  const n = columns.length;
  const id = escapeTsv(blockId);
  let out = '';
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    let line = '';
    for (let c = 0; c < n; c++) {
      const kind = kinds[c];
      let text: string;
      if (kind === 'block') {
        text = id;
      } else {
        const v = row[columns[c]!];
        if (v === undefined) throw clickhouseErrors.badRow(table, r, `column "${columns[c]}" is missing`);
        if (kind === 'number') text = typeof v === 'number' ? String(v) : escapeTsv(String(v));
        else if (kind === 'string') text = escapeTsv(String(v));
        else text = arrayTsv(Array.isArray(v) ? v : []);
      }
      line = c === 0 ? text : line + '\t' + text;
    }
    out += line + '\n';
  }
  return out;
}

/** PROBE_COLUMNS is probe_samples' column order as encodeProbeBlock writes it (a test keeps it equal to the schema's). */
export const PROBE_COLUMNS = ['ts', 'ts_ms', 'src', 'dst', 'path', 'seq', 'rtt_us', 'lost', 'jitter_us', 'block_id'] as const;

/**
 * encodeProbeBlock is encodeBlock for the high-volume table, with the columns spelled out: about
 * twice as fast as the generic loop, since every property read has one known shape.
 */
function encodeProbeBlock(rows: readonly DbRow[], id: string): string {
  let out = '';
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const { ts, ts_ms, src, dst, path, seq, rtt_us, lost, jitter_us } = r;
    if (ts === undefined || ts_ms === undefined || src === undefined || dst === undefined || path === undefined || seq === undefined || rtt_us === undefined || lost === undefined || jitter_us === undefined) {
      const missing = PROBE_COLUMNS.find((c) => c !== 'block_id' && r[c] === undefined);
      throw clickhouseErrors.badRow('probe_samples', i, `column "${missing}" is missing`);
    }
    out +=
      ts + '\t' + ts_ms + '\t' + escapeTsv(String(src)) + '\t' + escapeTsv(String(dst)) + '\t' + escapeTsv(String(path)) + '\t' +
      seq + '\t' + rtt_us + '\t' + lost + '\t' + jitter_us + '\t' + id + '\n';
  }
  return out;
}
