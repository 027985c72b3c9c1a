import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FactsHostErrorCode } from './errors';
import { osInfoFrom, parseOsRelease, readOsRelease } from './os-release';

const fixture = (name: string) => join(__dirname, 'fixtures', name, 'os-release');

describe('os-release', () => {
  it('reads Debian 12', async () => {
    const { path, fields } = await readOsRelease(fixture('debian-12'));
    expect(path).toBe(fixture('debian-12'));
    expect(fields.VERSION_CODENAME).toBe('bookworm');
    expect(fields.HOME_URL).toBe('https://www.debian.org/');
    expect(osInfoFrom(fields)).toEqual({
      id: 'debian',
      versionId: '12',
      name: 'Debian GNU/Linux',
      prettyName: 'Debian GNU/Linux 12 (bookworm)',
    });
  });

  it('reads Ubuntu 22.04', async () => {
    const { fields } = await readOsRelease(fixture('ubuntu-22.04'));
    expect(fields.ID_LIKE).toBe('debian');
    expect(fields.UBUNTU_CODENAME).toBe('jammy');
    expect(osInfoFrom(fields)).toEqual({ id: 'ubuntu', versionId: '22.04', name: 'Ubuntu', prettyName: 'Ubuntu 22.04.4 LTS' });
  });

  it('follows the shell quoting rules: comments, single quotes, escapes, blanks', async () => {
    const { fields } = await readOsRelease(fixture('quoting'));
    expect(fields).toEqual({
      NAME: 'Quoted "Linux"',
      ID: 'quoted',
      ID_LIKE: 'fedora rhel',
      VERSION_ID: '9.3',
      PRETTY_NAME: 'Quoted "Linux" 9.3 $HOME `x` \\ done',
      VARIANT: 'a # not a comment',
      EMPTY: '',
    });
  });

  it('applies the os-release(5) defaults when fields are missing, and accepts CRLF', async () => {
    const { fields } = await readOsRelease(fixture('minimal'));
    expect(fields).toEqual({ BUILD_ID: 'rolling', NAME: 'Minimal' });
    expect(osInfoFrom(fields)).toEqual({ id: 'linux', versionId: null, name: 'Minimal', prettyName: 'Linux' });
  });

  it('rejects a malformed file naming the path and line', async () => {
    const path = fixture('malformed-unterminated-quote');
    await expect(readOsRelease(path)).rejects.toMatchObject({
      code: FactsHostErrorCode.OS_RELEASE_MALFORMED,
      message: expect.stringContaining(`${path}:3: PRETTY_NAME: the " quote is never closed`),
    });
    expect(() => parseOsRelease('ID=x\nJUST SOME TEXT\n', 'f')).toThrow(/^f:2: expected KEY=value, got "JUST SOME TEXT"/);
    expect(() => parseOsRelease('1ID=x\n', 'f')).toThrow(/f:1: "1ID" is not a valid variable name/);
    expect(() => parseOsRelease('NAME="a"b\n', 'f')).toThrow(/f:1: NAME: unexpected "b" after the closing quote/);
    expect(() => parseOsRelease("NAME='a\n", 'f')).toThrow(/the ' quote is never closed/);
  });

  it('names the path when the file is missing or unreadable', async () => {
    const missing = join(__dirname, 'fixtures', 'no-such-dir', 'os-release');
    await expect(readOsRelease(missing)).rejects.toMatchObject({
      code: FactsHostErrorCode.OS_RELEASE_UNREADABLE,
      message: expect.stringContaining(`cannot read os-release at ${missing} (${missing}: ENOENT)`),
    });
    const dir = join(__dirname, 'fixtures', 'debian-12');
    await expect(readOsRelease(dir)).rejects.toMatchObject({
      code: FactsHostErrorCode.OS_RELEASE_UNREADABLE,
      message: expect.stringContaining(`${dir} (EISDIR)`),
    });
  });

  it('parses the real /etc/os-release of this machine', async () => {
    const { path, fields } = await readOsRelease();
    const text = readFileSync(path, 'utf8');
    const id = /^ID=("?)([^"\n]*)\1$/m.exec(text)?.[2];
    expect(osInfoFrom(fields).id).toBe(id ?? 'linux');
    expect(Object.keys(fields).length).toBeGreaterThan(0);
  });
});
