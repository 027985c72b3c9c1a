/**
 * Reading os-release(5): newline-separated shell-style KEY=value assignments, values optionally in
 * double quotes (with \ escapes for $ " \ `) or single quotes, # comments and blank lines ignored.
 * Parsing is strict about what would make a shell read it differently (unterminated quotes, text
 * after a closing quote, lines that are not assignments), so a corrupt file is reported, not guessed.
 */
import { readFile } from 'node:fs/promises';
import { factsHostErrors } from './errors';

export const DEFAULT_OS_RELEASE_PATH = '/etc/os-release';
/** os-release(5): read when /etc/os-release does not exist. */
export const FALLBACK_OS_RELEASE_PATH = '/usr/lib/os-release';

/** Every assignment in the file, by key. */
export type OsReleaseFields = Record<string, string>;

export interface OsInfo {
  /** ID; "linux" when absent, as os-release(5) specifies. */
  id: string;
  /** VERSION_ID; null on rolling releases that have none. */
  versionId: string | null;
  /** NAME; "Linux" when absent. */
  name: string;
  /** PRETTY_NAME; "Linux" when absent. */
  prettyName: string;
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Characters a backslash escapes inside double quotes (as in a POSIX shell). */
const DQ_ESCAPABLE = new Set(['$', '"', '\\', '`']);

/** parseOsRelease parses the text of an os-release file; `source` names it in errors. */
export function parseOsRelease(text: string, source = 'os-release'): OsReleaseFields {
  const fields: OsReleaseFields = {};
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const trimmed = line.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const eq = trimmed.indexOf('=');
    if (eq < 0) throw factsHostErrors.osReleaseMalformed(source, lineNo, `expected KEY=value, got "${clip(trimmed)}"`);
    const key = trimmed.slice(0, eq);
    if (!KEY.test(key)) throw factsHostErrors.osReleaseMalformed(source, lineNo, `"${clip(key)}" is not a valid variable name`);
    fields[key] = parseValue(trimmed.slice(eq + 1), source, lineNo, key);
  });
  return fields;
}

function parseValue(rest: string, source: string, lineNo: number, key: string): string {
  const quote = rest[0];
  if (quote !== '"' && quote !== "'") {
    // Unquoted: backslash takes the next character literally; trailing blanks are not part of it.
    return rest.trimEnd().replace(/\\(.)/g, '$1');
  }
  let value = '';
  let i = 1;
  for (; i < rest.length; i++) {
    const c = rest[i]!;
    if (c === quote) break;
    if (quote === '"' && c === '\\' && i + 1 < rest.length && DQ_ESCAPABLE.has(rest[i + 1]!)) {
      value += rest[++i];
      continue;
    }
    value += c;
  }
  if (i >= rest.length) throw factsHostErrors.osReleaseMalformed(source, lineNo, `${key}: the ${quote} quote is never closed`);
  const after = rest.slice(i + 1);
  if (after.trim() !== '') {
    throw factsHostErrors.osReleaseMalformed(source, lineNo, `${key}: unexpected "${clip(after.trim())}" after the closing quote`);
  }
  return value;
}

const clip = (s: string) => (s.length > 40 ? `${s.slice(0, 40)}…` : s);

/** osInfoFrom picks the identifying fields, with the defaults os-release(5) gives for missing ones. */
export function osInfoFrom(fields: OsReleaseFields): OsInfo {
  return {
    id: fields.ID || 'linux',
    versionId: fields.VERSION_ID || null,
    name: fields.NAME || 'Linux',
    prettyName: fields.PRETTY_NAME || 'Linux',
  };
}

/**
 * readOsRelease reads and parses an os-release file. For the default path it falls back to
 * /usr/lib/os-release when /etc/os-release does not exist, as os-release(5) asks of readers.
 */
export async function readOsRelease(path = DEFAULT_OS_RELEASE_PATH): Promise<{ path: string; fields: OsReleaseFields }> {
  const candidates = path === DEFAULT_OS_RELEASE_PATH ? [path, FALLBACK_OS_RELEASE_PATH] : [path];
  const problems: string[] = [];
  for (const candidate of candidates) {
    let text: string;
    try {
      text = await readFile(candidate, 'utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      problems.push(`${candidate}: ${e.code ?? e.message}`);
      if (e.code === 'ENOENT') continue;
      throw factsHostErrors.osReleaseUnreadable([candidate], e.code ?? e.message);
    }
    return { path: candidate, fields: parseOsRelease(text, candidate) };
  }
  throw factsHostErrors.osReleaseUnreadable(candidates, problems.join(', '));
}
