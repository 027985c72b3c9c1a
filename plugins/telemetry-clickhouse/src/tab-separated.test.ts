import { toDbRows, TABLES } from './rows';
import { RAW_TABLE_SPECS } from './schema';
import { arrayTsv, encodeBlock, escapeTsv, PROBE_COLUMNS, tableColumns } from './tab-separated';

describe('TabSeparated encoding', () => {
  it('writes every table in its declared column order, block_id from the block', () => {
    for (const t of TABLES) expect(tableColumns(t)).toEqual(RAW_TABLE_SPECS[t].columns.map(([c]) => c));
    expect(tableColumns('probe_samples')).toEqual([...PROBE_COLUMNS]);
  });

  it('encodes probe rows as the generic encoder would, one line per row', () => {
    const rows = toDbRows({
      probes: [
        { at: 1_700_000_000_123, src: 'n1', dst: 'n2', path: 'direct', seq: 7, rttUs: 812.4, lost: false, jitterUs: 30 },
        { at: 1_700_000_001_000, src: 'a\tb', dst: 'n\\2', path: 'relay\n1', seq: 8, rttUs: null, lost: true, jitterUs: 0 },
      ],
    }).probe_samples!;
    expect(encodeBlock('probe_samples', rows, 'blk-1')).toBe(
      '1700000000\t1700000000123\tn1\tn2\tdirect\t7\t812\t0\t30\tblk-1\n' + '1700000001\t1700000001000\ta\\tb\tn\\\\2\trelay\\n1\t8\t0\t1\t0\tblk-1\n',
    );
  });

  it('escapes strings and writes Array(String) in quoted text form', () => {
    expect(escapeTsv('plain')).toBe('plain');
    expect(escapeTsv('a\tb\nc\\d\re\0')).toBe('a\\tb\\nc\\\\d\\re\\0');
    expect(arrayTsv([])).toBe('[]');
    expect(arrayTsv(["it's", 'x\ty', 'b\\s'])).toBe("['it\\'s','x\\ty','b\\\\s']");
    const posture = toDbRows({ batchId: 'b1', posture: [{ at: 1_700_000_000_000, node: 'n1', compliant: false, reasons: ['disk not encrypted', "o'brien"] }] });
    expect(encodeBlock('posture_decisions', posture.posture_decisions!, 'blk')).toBe(
      "1700000000\t1700000000000\tn1\t0\t['disk not encrypted','o\\'brien']\t\tb1\t0\tblk\n",
    );
  });

  it('refuses a row missing a column instead of inserting a default', () => {
    expect(() => encodeBlock('probe_samples', [{ ts: 1, ts_ms: 1000, src: 'a', dst: 'b', path: 'direct', seq: 1, rtt_us: 1, lost: 0 }], 'x')).toThrow(/"jitter_us" is missing/);
    expect(() => encodeBlock('tunnel_stats', [{ ts: 1 }], 'x')).toThrow(/"ts_ms" is missing/);
  });
});
