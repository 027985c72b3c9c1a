import { ClickHouseErrorCode } from './errors';
import { CONFIG_DEFAULTS, resolveConfig } from './config';

const ok = { url: 'http://127.0.0.1:8123', spoolDir: '/tmp/spool' };

function errorOf(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error('expected an error');
}

describe('resolveConfig', () => {
  it('fills defaults', () => {
    expect(resolveConfig(ok)).toMatchObject({ ...CONFIG_DEFAULTS, url: ok.url, spoolDir: ok.spoolDir });
  });
  it('rejects a bad table prefix naming the field and the rule', () => {
    const e = errorOf(() => resolveConfig({ ...ok, tablePrefix: 'Bad-Prefix' }));
    expect(e.code).toBe(ClickHouseErrorCode.CONFIG_INVALID);
    expect(e.message).toContain('"tablePrefix"');
    expect(e.message).toContain('^[a-z_][a-z0-9_]*$');
  });
  it('rejects a prefix that could inject SQL', () => {
    expect(errorOf(() => resolveConfig({ ...ok, tablePrefix: 'x`; DROP TABLE y; --' })).message).toContain('tablePrefix');
  });
  it('rejects a URL that is not http(s)', () => {
    expect(errorOf(() => resolveConfig({ ...ok, url: 'tcp://x:9000' })).message).toContain('"url"');
    expect(errorOf(() => resolveConfig({ ...ok, url: 'not a url' })).message).toContain('not a URL');
  });
  it('rejects out-of-range numbers and unknown options', () => {
    expect(errorOf(() => resolveConfig({ ...ok, batchMaxRows: 0 })).message).toContain('"batchMaxRows"');
    expect(errorOf(() => resolveConfig({ ...ok, spoolMaxBytes: 1.5 })).message).toContain('"spoolMaxBytes"');
    expect(errorOf(() => resolveConfig({ ...ok, colour: 'red' } as never)).message).toContain('"colour"');
  });
  it('checks the cluster option', () => {
    expect(resolveConfig({ ...ok, cluster: { name: 'mesh', replicated: true } }).cluster).toEqual({ name: 'mesh', replicated: true });
    expect(errorOf(() => resolveConfig({ ...ok, cluster: { name: 'a b', replicated: true } })).message).toContain('"cluster"');
  });
});
