/**
 * A minimal reader for the ustar/PAX archives `opa build` writes: regular files only, in memory.
 * Bundles are small (a wasm module and a data document), so there is no streaming.
 */

const BLOCK = 512;

export interface TarEntry {
  /** Path inside the archive, without a leading "/". */
  path: string;
  content: Buffer;
}

function field(header: Buffer, offset: number, length: number): string {
  const raw = header.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? raw.length : end).toString('utf8');
}

function octal(header: Buffer, offset: number, length: number, what: string): number {
  const text = field(header, offset, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new Error(`tar header ${what} "${text}" is not an octal number`);
  return parseInt(text, 8);
}

function checksumOk(header: Buffer): boolean {
  const want = octal(header, 148, 8, 'checksum');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return sum === want;
}

/** parsePax reads "LEN key=value\n" records of a PAX extended header. */
function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < body.length) {
    const space = body.indexOf(0x20, pos);
    if (space === -1) break;
    const len = parseInt(body.subarray(pos, space).toString('ascii'), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const record = body.subarray(space + 1, pos + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

/** readTar lists the regular files of an uncompressed tar archive; it throws on a corrupt one. */
export function readTar(archive: Buffer): TarEntry[] {
  if (archive.length === 0 || archive.length % BLOCK !== 0) {
    throw new Error(`a tar archive is whole 512-byte blocks; this is ${archive.length} bytes`);
  }
  const entries: TarEntry[] = [];
  let pos = 0;
  let nextPath: string | null = null;
  while (pos + BLOCK <= archive.length) {
    const header = archive.subarray(pos, pos + BLOCK);
    if (header.every((b) => b === 0)) break;
    if (!checksumOk(header)) throw new Error(`tar header at byte ${pos} has a bad checksum`);
    const size = octal(header, 124, 12, 'size');
    const type = String.fromCharCode(header[156] || 0x30);
    const bodyStart = pos + BLOCK;
    if (bodyStart + size > archive.length) throw new Error(`tar entry at byte ${pos} is truncated`);
    const body = archive.subarray(bodyStart, bodyStart + size);
    pos = bodyStart + Math.ceil(size / BLOCK) * BLOCK;

    if (type === 'x') {
      nextPath = parsePax(body).path ?? nextPath;
      continue;
    }
    if (type === 'L') {
      nextPath = field(body, 0, body.length);
      continue;
    }
    if (type === 'g') continue;
    const prefix = field(header, 257, 6).startsWith('ustar') ? field(header, 345, 155) : '';
    const name = nextPath ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    nextPath = null;
    if (type === '0' || type === '\0' || type === '7') {
      entries.push({ path: name.replace(/^\.?\/+/, ''), content: Buffer.from(body) });
    }
  }
  return entries;
}
