/**
 * chDB for end-to-end tests: ClickHouse 26.x in-process (PyPI "chdb" in .venv-chdb, prepared by
 * scripts/install-chdb.sh), driven through test/support/chdb-statements.py over stdin/stdout.
 * ChdbEngine runs one statement at a time and returns columns and rows as ClickHouse's JSON format
 * writes them; ChdbStatements puts it behind telemetry-clickhouse's ClickHouseStatements, so the
 * plugin's own migrate() and block sink run on the current engine unchanged.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { ClickHouseStatements, InsertOptions } from '@trellis/plugin-telemetry-clickhouse';

const REPO = resolve(__dirname, '../..');
export const CHDB_PYTHON = resolve(REPO, '.venv-chdb/bin/python');
const SCRIPT = resolve(__dirname, 'chdb-statements.py');

export interface ChdbAnswer {
  columns: string[];
  types: string[];
  rows: Array<Record<string, unknown>>;
}

type Reply = ChdbAnswer | { error: string };

export class ChdbEngine {
  /** Callers waiting for a line, in the order their statements were written; the first is start() waiting for the version. */
  private readonly waiting: Array<(line: string) => void> = [];
  private exited: string | null = null;
  private stderr = '';
  /** The embedded ClickHouse's version(), e.g. "26.9.2.1". */
  version = '';

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    createInterface({ input: child.stdout }).on('line', (l) => this.waiting.shift()?.(l));
    const gone = (why: string) => {
      this.exited = `chdb-statements.py ${why}: ${this.stderr.trim().slice(-500)}`;
      for (const w of this.waiting.splice(0)) w(JSON.stringify({ error: this.exited }));
    };
    child.on('error', (err) => gone(`failed (${err.message})`));
    // A write after the helper died fails with EPIPE; the exit handler has answered every caller by then.
    child.stdin.on('error', () => undefined);
    child.on('exit', (code, signal) => gone(`exited (${code ?? signal})`));
  }

  /** start runs chDB with its tables under dataDir (the caller removes it). */
  static async start(dataDir: string): Promise<ChdbEngine> {
    if (!existsSync(CHDB_PYTHON)) throw new Error(`${CHDB_PYTHON} is missing: run scripts/install-chdb.sh (npm test runs it through scripts/setup.sh)`);
    const engine = new ChdbEngine(spawn(CHDB_PYTHON, [SCRIPT, dataDir], { stdio: ['pipe', 'pipe', 'pipe'] }));
    const first = JSON.parse(await new Promise<string>((r) => engine.waiting.push(r))) as { version?: string; error?: string };
    if (!first.version) {
      engine.child.kill('SIGKILL');
      throw new Error(first.error ?? 'chdb-statements.py did not report a version');
    }
    engine.version = first.version;
    return engine;
  }

  /** run executes one statement; it rejects with the engine's own message when ClickHouse refuses it. */
  async run(sql: string): Promise<ChdbAnswer> {
    if (this.exited) throw new Error(this.exited);
    const reply = JSON.parse(
      await new Promise<string>((r) => {
        this.waiting.push(r);
        this.child.stdin.write(JSON.stringify({ sql }) + '\n');
      }),
    ) as Reply;
    if ('error' in reply) throw new Error(reply.error);
    return reply;
  }

  /** close ends the helper and waits for it, so its session's files can be removed. */
  async close(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(timer);
  }
}

const quoteIdent = (name: string) => '`' + name.replace(/\\/g, '\\\\').replace(/`/g, '\\`') + '`';
const settingValue = (v: string | number) => (typeof v === 'number' ? String(v) : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`);

/**
 * ChdbStatements sends telemetry-clickhouse's statements to chDB as the HTTP interface would:
 * an insert's settings go into its SETTINGS clause and its TabSeparated body follows FORMAT. The
 * query id has nothing to guard in a single in-process session, and abort signals end nothing
 * there, so both are left out.
 */
export class ChdbStatements implements ClickHouseStatements {
  constructor(private readonly engine: ChdbEngine) {}

  async command(sql: string, what: string): Promise<void> {
    await this.wrap(what, () => this.engine.run(sql));
  }

  async queryRows<T>(sql: string, what: string): Promise<T[]> {
    return (await this.wrap(what, () => this.engine.run(sql))).rows as T[];
  }

  async insertTabSeparated(table: string, columns: readonly string[], body: string | Buffer, opts: InsertOptions = {}): Promise<void> {
    const settings = Object.entries(opts.settings ?? {});
    const sql =
      `INSERT INTO ${table} (${columns.map(quoteIdent).join(', ')})` +
      (settings.length ? ` SETTINGS ${settings.map(([k, v]) => `${k} = ${settingValue(v)}`).join(', ')}` : '') +
      ` FORMAT TabSeparated\n${body.toString()}`;
    await this.wrap(`INSERT INTO ${table}`, () => this.engine.run(sql));
  }

  private async wrap<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new Error(`${what} on chDB ${this.engine.version}: ${(err as Error).message}`);
    }
  }
}
