/**
 * PostgresCluster runs a private PostgreSQL cluster from Debian's `postgresql` binaries in a
 * directory of its own (initdb + pg_ctl): listening on 127.0.0.1 at a free port and on a socket
 * in that directory only, with a generated password (scram-sha-256). The lab (`--store postgres`),
 * the tests and the benchmarks start one and remove it. PostgreSQL refuses to run as root, so as
 * root the server runs as the `postgres` user Debian's package creates, owning the directory.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { errors } from '../errors';

const PG_LIB = '/usr/lib/postgresql';
const SUPERUSER = 'trellis';

export interface PostgresClusterInfo {
  /** Directory holding data/, the socket and the server log; removed by remove(). */
  dir: string;
  port: number;
  password: string;
  /** The binaries' directory, e.g. /usr/lib/postgresql/15/bin. */
  bin: string;
  /** Whether the server runs as the postgres user (we are root). */
  asPostgresUser: boolean;
}

export interface PostgresClusterOptions {
  /** Parent of the cluster's directory; default the system temp dir. */
  parentDir?: string;
  /** Use this directory (created) instead of a new temp one, e.g. inside a lab's state dir. */
  dir?: string;
  /** Turn off fsync (tests): faster, and nothing survives a machine crash, which a test never needs. */
  durable?: boolean;
  /** Extra server settings, name -> value. */
  settings?: Record<string, string | number>;
}

/** postgresBinDir finds Debian's newest PostgreSQL binaries; throws naming the package to install. */
export function postgresBinDir(): string {
  const versions = existsSync(PG_LIB)
    ? readdirSync(PG_LIB)
        .filter((v) => /^\d+$/.test(v) && existsSync(join(PG_LIB, v, 'bin', 'pg_ctl')) && existsSync(join(PG_LIB, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) throw errors.lab(`no PostgreSQL server binaries under ${PG_LIB}; install Debian's postgresql package (scripts/setup.sh does)`);
  return join(PG_LIB, versions[0]!, 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function postgresIds(): { uid: number; gid: number } {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw errors.lab('running as root, but there is no postgres user to run PostgreSQL as; install Debian\'s postgresql package (scripts/setup.sh does)');
  }
}

export class PostgresCluster {
  private stopped = false;
  private readonly exitHook = () => this.killSync();

  private constructor(readonly info: PostgresClusterInfo) {
    process.once('exit', this.exitHook);
  }

  /** start makes and starts a new cluster; on any failure nothing is left behind. */
  static async start(opts: PostgresClusterOptions = {}): Promise<PostgresCluster> {
    const bin = postgresBinDir();
    const asPostgresUser = isRoot();
    const dir = opts.dir ?? mkdtempSync(join(opts.parentDir ?? tmpdir(), 'trellis-pg-'));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const info: PostgresClusterInfo = { dir, port: await freePort(), password: randomBytes(18).toString('base64url'), bin, asPostgresUser };
    const cluster = new PostgresCluster(info);
    try {
      if (asPostgresUser) {
        const { uid, gid } = postgresIds();
        chownSync(dir, uid, gid);
      }
      chmodSync(dir, 0o700);
      const pwfile = join(dir, 'pwfile');
      writeFileSync(pwfile, `${info.password}\n`, { mode: 0o600 });
      if (asPostgresUser) chownSync(pwfile, postgresIds().uid, postgresIds().gid);
      cluster.run('initdb', ['-D', cluster.dataDir, '-U', SUPERUSER, '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--no-locale', '--no-instructions']);
      rmSync(pwfile, { force: true });
      const settings: Record<string, string | number> = {
        listen_addresses: "'127.0.0.1'",
        port: info.port,
        unix_socket_directories: `'${dir}'`,
        max_connections: 200,
        shared_buffers: "'128MB'",
        ...(opts.durable === false ? { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } : {}),
        ...opts.settings,
      };
      const conf = Object.entries(settings)
        .map(([k, v]) => `${k} = ${v}`)
        .join('\n');
      cluster.run('sh', ['-c', `printf '%s\\n' "$1" >> "$2"`, 'sh', conf, join(cluster.dataDir, 'postgresql.conf')]);
      cluster.run('pg_ctl', ['-D', cluster.dataDir, '-l', cluster.logFile, '-w', '-t', '60', 'start']);
      return cluster;
    } catch (err) {
      await cluster.remove().catch(() => undefined);
      throw err instanceof Error && 'code' in err ? err : errors.lab(`PostgreSQL cluster in ${dir} did not start: ${(err as Error).message}`);
    }
  }

  get dataDir(): string {
    return join(this.info.dir, 'data');
  }

  get logFile(): string {
    return join(this.info.dir, 'server.log');
  }

  /** url is the connection URL of one database in this cluster (the superuser's). */
  url(database = 'postgres'): string {
    return `postgres://${SUPERUSER}:${encodeURIComponent(this.info.password)}@127.0.0.1:${this.info.port}/${encodeURIComponent(database)}`;
  }

  /** createDatabase makes an empty database and returns its URL. */
  async createDatabase(name: string): Promise<string> {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw errors.lab(`database name "${name}" must be lower-case letters, digits and _`);
    const c = new pg.Client({ connectionString: this.url() });
    await c.connect();
    try {
      await c.query(`CREATE DATABASE ${name}`);
    } finally {
      await c.end();
    }
    return this.url(name);
  }

  /** sql runs statements on a database as the superuser (tests: what an attacker with database access does). */
  async sql<T = Record<string, unknown>>(database: string, text: string, params: unknown[] = []): Promise<T[]> {
    return (await this.query(database, text, params)).rows as T[];
  }

  /** exec runs one statement as the superuser and returns how many rows it changed. */
  async exec(database: string, text: string, params: unknown[] = []): Promise<number> {
    return (await this.query(database, text, params)).rowCount ?? 0;
  }

  private async query(database: string, text: string, params: unknown[]): Promise<pg.QueryResult> {
    const c = new pg.Client({ connectionString: this.url(database), types: { getTypeParser: (oid: number, fmt?: string) => (oid === 20 ? Number : (pg.types.getTypeParser as (o: number, f?: string) => unknown)(oid, fmt)) } as pg.CustomTypesConfig });
    await c.connect();
    try {
      return await c.query(text, params);
    } finally {
      await c.end();
    }
  }

  private run(cmd: string, args: string[]): void {
    const [file, argv] = cmd === 'sh' ? ['sh', args] : [join(this.info.bin, cmd), args];
    const full = this.info.asPostgresUser ? ['runuser', ['-u', 'postgres', '--', file, ...argv]] as const : [file, argv] as const;
    const r = spawnSync(full[0], full[1], { encoding: 'utf8', cwd: this.info.dir });
    if (r.error) throw errors.lab(`cannot run ${cmd}: ${r.error.message}`);
    if (r.status !== 0) throw errors.lab(`${cmd} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join(' / ')}${cmd === 'pg_ctl' ? `; see ${this.logFile}` : ''}`);
  }

  /** stop shuts the server down (fast mode: open connections are ended); the directory stays. */
  async stop(): Promise<void> {
    if (this.stopped || !existsSync(join(this.dataDir, 'postmaster.pid'))) return;
    this.run('pg_ctl', ['-D', this.dataDir, '-m', 'fast', '-w', '-t', '60', 'stop']);
  }

  /** kill stops the server at once (immediate mode), as a crash would. */
  async kill(): Promise<void> {
    this.killSync();
  }

  /** restart starts a stopped server on the same port and data. */
  async restart(): Promise<void> {
    this.run('pg_ctl', ['-D', this.dataDir, '-l', this.logFile, '-w', '-t', '60', 'start']);
  }

  private killSync(): void {
    if (!existsSync(join(this.dataDir, 'postmaster.pid'))) return;
    const file = join(this.info.bin, 'pg_ctl');
    const args = ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop'];
    if (this.info.asPostgresUser) spawnSync('runuser', ['-u', 'postgres', '--', file, ...args], { stdio: 'ignore' });
    else spawnSync(file, args, { stdio: 'ignore' });
  }

  /** remove stops the server and deletes its directory. */
  async remove(): Promise<void> {
    try {
      await this.stop();
    } catch {
      this.killSync();
    }
    this.stopped = true;
    process.removeListener('exit', this.exitHook);
    rmSync(this.info.dir, { recursive: true, force: true });
  }
}
