/**
 * UapiDevice drives a userspace wireguard-go interface over its UAPI unix socket. It adopts a
 * device that is already running under the same name, and writes only the difference between
 * configs so unchanged peers keep their sessions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, unlinkSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { errors, TrellisError } from '../errors';
import type { Logger } from '../log/logger';
import { DeviceOutput } from './device-output';
import { tryRun } from '../sys/run';
import { diffWgConfig, isEmptyDiff, summarizeDiff } from './config-diff';
import { readTunOffloads, type TunOffloads } from './tun-offloads';
import type { ReconfigureResult, WgConfig, WgDevice, WgDeviceInfo, WgPeerStats } from './types';
import {
  UAPI_GET,
  parseErrno,
  parseGetResponse,
  serializeSet,
  setFromDiff,
  stateToStats,
  stateToWgConfig,
  type UapiDeviceState,
} from './uapi';
import { chooseDeviceBinary, type DeviceBinaryChoice } from './device-binary';
import { controlSocketPath, probeDiscoSupport } from './trellis-wg';
import { BUNDLED_WIREGUARD_GO, describeWireguardGo, executableOf, findWireguardGoPid, wireguardGoVersion, type WireguardGoBuild } from './wireguard-go';

/** DEFAULT_UAPI_SOCKET_DIR is where wireguard-go puts <iface>.sock (shared by all network namespaces). */
export const DEFAULT_UAPI_SOCKET_DIR = '/var/run/wireguard';

export interface UapiDeviceOptions {
  /** Interface name; unique on the machine, at most 15 characters. */
  name: string;
  /** Device binary; default from chooseDeviceBinary() (trellis-wg, else the bundled wireguard-go, else PATH's). */
  wireguardGo?: string;
  /** Network namespace to create the interface in (the socket dir stays shared). */
  netns?: string;
  /** Where to look for <name>.sock (and trellis-wg's <name>.ctl); the binaries always use /var/run/wireguard. */
  socketDir?: string;
  log?: Logger;
}

const START_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 5_000;
const PROBE_TIMEOUT_MS = 1_000;
const STDERR_TAIL = 4_096;
const IFACE_NAME = /^[A-Za-z0-9_.-]{1,15}$/;
const ERRNO_LINE = /(?:^|\n)errno=-?\d+\n/;
/** How long describe() reuses the offloads it read: they are set when the TUN is created. */
const OFFLOADS_TTL_MS = 5_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * deviceEnv is the environment wireguard-go starts with: the agent's, less every TRELLIS_*
 * variable (the lab and operators pass the auth key as TRELLIS_AUTH_KEY, and a long-lived
 * child has no business holding it in /proc/<pid>/environ), and with errors-only logging.
 */
export function deviceEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith('TRELLIS_')) out[k] = v;
  out.LOG_LEVEL = 'error';
  return out;
}

export class UapiDevice implements WgDevice {
  readonly name: string;
  /** The UAPI socket this device talks to. */
  readonly socketPath: string;
  /** trellis-wg's control socket for this device (absent with upstream wireguard-go). */
  readonly controlSocketPath: string;
  private readonly opts: UapiDeviceOptions;
  private child: ChildProcess | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private choice: DeviceBinaryChoice | null = null;
  private described: { pid: number; build: WireguardGoBuild; binary: string | null } | null = null;
  private offloads: { pid: number | null; at: number; value: TunOffloads | null } | null = null;

  constructor(opts: UapiDeviceOptions) {
    if (!IFACE_NAME.test(opts.name)) {
      throw errors.device(opts.name, 'interface name must be 1-15 characters of letters, digits, "_", "." or "-"');
    }
    this.opts = opts;
    this.name = opts.name;
    this.socketPath = join(opts.socketDir ?? DEFAULT_UAPI_SOCKET_DIR, `${opts.name}.sock`);
    this.controlSocketPath = controlSocketPath(opts.name, opts.socketDir ?? DEFAULT_UAPI_SOCKET_DIR);
  }

  /** pid of the wireguard-go process this object started, or null when adopted or stopped. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  up(): Promise<void> {
    return this.serialize(() => this.doUp());
  }

  reconfigure(next: WgConfig, prev: WgConfig | null): Promise<ReconfigureResult> {
    return this.serialize(() => this.doReconfigure(next, prev));
  }

  async stats(): Promise<WgPeerStats[]> {
    return stateToStats(await this.readState());
  }

  down(): Promise<void> {
    return this.serialize(() => this.doDown());
  }

  /**
   * describe says which wireguard-go build serves the device (read from the running process, so an
   * adopted device or a binary replaced on disk is reported as it really runs) and which TUN
   * offloads are in force.
   */
  async describe(): Promise<WgDeviceInfo> {
    const adopted = this.described && existsSync(`/proc/${this.described.pid}`) ? this.described.pid : null;
    const pid = this.child?.pid ?? adopted ?? findWireguardGoPid(this.name);
    if (pid !== null && this.described?.pid !== pid) {
      this.described = { pid, build: await describeWireguardGo(`/proc/${pid}/exe`), binary: executableOf(pid) };
    }
    const known = pid !== null && this.described?.pid === pid ? this.described : null;
    const now = Date.now();
    if (!this.offloads || this.offloads.pid !== pid || now - this.offloads.at > OFFLOADS_TTL_MS) {
      const netns = this.opts.netns ? { netns: this.opts.netns } : {};
      this.offloads = { pid, at: now, value: await readTunOffloads(this.name, netns).catch(() => null) };
    }
    const binary = known?.binary ?? null;
    // An adopted device was started by someone else: it falls back when we would have, too.
    const fallback = (this.choice ?? chooseDeviceBinary(this.opts.wireguardGo)).fallback;
    const driver = known?.build.implementation ?? 'wireguard-go';
    const disco = pid === null ? undefined : await probeDiscoSupport(this.name, known ? driver : null, this.opts.socketDir);
    return {
      driver,
      binary,
      version: known?.build.version ?? null,
      moduleVersion: known?.build.moduleVersion ?? null,
      commit: known?.build.commit ?? null,
      pid,
      offloads: this.offloads.value,
      fallback,
      ...(disco ? { disco } : {}),
    };
  }

  /** readState asks the device for everything it holds (`get=1`). */
  async readState(): Promise<UapiDeviceState> {
    const text = await this.exchange(UAPI_GET, REQUEST_TIMEOUT_MS);
    try {
      return parseGetResponse(text);
    } catch (err) {
      throw this.wrap(err);
    }
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.queue.then(fn, fn);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private get log(): Logger | undefined {
    return this.opts.log;
  }

  private wrap(err: unknown): TrellisError {
    if (err instanceof TrellisError && err.message.startsWith(`WireGuard device ${this.name}:`)) return err;
    const msg = err instanceof Error ? err.message : String(err);
    const wrapped = errors.device(this.name, msg);
    return err instanceof TrellisError && err.details ? new TrellisError(wrapped.code, wrapped.message, err.details) : wrapped;
  }

  /** exchange sends one request on a fresh connection and reads until the errno line. */
  private exchange(request: string, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(this.socketPath);
      let buf = '';
      let settled = false;
      const finish = (err: Error | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        if (err) reject(err);
        else resolve(buf);
      };
      const timer = setTimeout(
        () => finish(errors.device(this.name, `UAPI socket ${this.socketPath} did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      sock.setEncoding('utf8');
      sock.on('connect', () => sock.write(request));
      sock.on('data', (chunk: string) => {
        buf += chunk;
        if (ERRNO_LINE.test(buf.slice(-Math.max(chunk.length + 32, 64)))) finish(null);
      });
      sock.on('error', (err) =>
        finish(errors.device(this.name, `UAPI socket ${this.socketPath}: ${err.message}; is the device up?`)),
      );
      sock.on('close', () =>
        finish(errors.device(this.name, `UAPI socket ${this.socketPath} closed before the errno line`)),
      );
    });
  }

  private async answers(): Promise<boolean> {
    if (!existsSync(this.socketPath)) return false;
    try {
      parseGetResponse(await this.exchange(UAPI_GET, PROBE_TIMEOUT_MS));
      return true;
    } catch {
      return false;
    }
  }

  private async doUp(): Promise<void> {
    if (await this.answers()) {
      if (!this.child) this.log?.info({ iface: this.name, socket: this.socketPath }, 'adopted running WireGuard device');
      return;
    }
    // Nothing serves this interface: its sockets, if any, were left by a killed device.
    for (const path of [this.socketPath, this.controlSocketPath]) {
      if (!existsSync(path)) continue;
      this.log?.warn({ iface: this.name, socket: path }, path === this.socketPath ? 'removing stale UAPI socket' : 'removing stale control socket');
      try {
        unlinkSync(path);
      } catch (err) {
        throw errors.device(this.name, `cannot remove stale socket ${path}: ${(err as Error).message}`);
      }
    }
    await this.spawnDevice();
  }

  private async spawnDevice(): Promise<void> {
    const choice = chooseDeviceBinary(this.opts.wireguardGo);
    this.choice = choice;
    const bin = choice.path;
    const { netns } = this.opts;
    const [file, args] = netns ? ['ip', ['netns', 'exec', netns, bin, '-f', this.name]] : [bin, ['-f', this.name]];
    const child = spawn(file, args, { env: deviceEnv(process.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let spawnError: Error | null = null;
    let exited: string | null = null;
    // Its logger (errors only, deviceEnv) writes to stdout; start-up failures and panics to stderr.
    const output = new DeviceOutput(this.log, this.name);
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => output.write('stdout', chunk));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL);
      output.write('stderr', chunk);
    });
    child.on('error', (err) => {
      spawnError = err;
    });
    child.on('exit', (code, signal) => {
      exited = signal ? `signal ${signal}` : `exit code ${code}`;
      output.end();
      if (this.child === child) this.child = null;
      this.log?.info({ iface: this.name, pid: child.pid, code, signal }, 'wireguard-go exited');
    });
    this.child = child;

    const cleanStderr = () =>
      stderr
        .split('\n')
        .filter((l) => l.trim() !== '' && !/[│┌└]/.test(l))
        .join(' ')
        .trim();
    const hint = `check the binary (${bin}; set TRELLIS_WIREGUARD_GO), that /dev/net/tun exists, and that no other interface is named ${this.name}`;
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (spawnError !== null || exited !== null) {
        const why = spawnError !== null ? (spawnError as Error).message : `${exited}${cleanStderr() ? `: ${cleanStderr()}` : ''}`;
        if (this.child === child) this.child = null;
        throw errors.device(this.name, `wireguard-go did not start (${why}); ${hint}`);
      }
      if (await this.answers()) break;
      if (Date.now() > deadline) {
        await this.stopChild(child);
        throw errors.device(
          this.name,
          `wireguard-go did not create ${this.socketPath} within ${START_TIMEOUT_MS / 1000} s${cleanStderr() ? ` (${cleanStderr()})` : ''}; ${hint}`,
        );
      }
      await sleep(50);
    }
    this.log?.info({ iface: this.name, pid: child.pid, bin, netns: netns ?? null }, `started ${choice.source === 'trellis-wg' ? 'trellis-wg' : 'wireguard-go'}`);
    if (choice.fallback) {
      const version = await wireguardGoVersion(bin).catch(() => 'version unknown');
      const old = bin === BUNDLED_WIREGUARD_GO ? '' : '; builds from before 2023 have no TUN offloads and carry about a fifth of the throughput';
      this.log?.warn(`${this.name}: falling back to ${bin} (${version}) because ${choice.fallback}${old}`);
    }
  }

  private async doReconfigure(next: WgConfig, prev: WgConfig | null): Promise<ReconfigureResult> {
    const base = prev ?? stateToWgConfig(await this.readState());
    const diff = diffWgConfig(base, next);
    const summary = summarizeDiff(diff);
    const result: ReconfigureResult = {
      summary,
      added: diff.add.length,
      updated: diff.update.length,
      removed: diff.remove.length,
      changed: false,
    };
    if (isEmptyDiff(diff)) {
      this.log?.debug({ iface: this.name }, 'WireGuard config: no changes');
      return result;
    }
    const request = serializeSet(setFromDiff(diff));
    const response = await this.exchange(request, REQUEST_TIMEOUT_MS);
    try {
      parseErrno(response);
    } catch (err) {
      throw this.wrap(err);
    }
    this.log?.info({ iface: this.name, summary }, 'WireGuard config applied');
    return { ...result, changed: true };
  }

  private async doDown(): Promise<void> {
    const opts = this.opts.netns ? { netns: this.opts.netns } : {};
    await tryRun('ip', ['link', 'del', this.name], opts);
    const child = this.child;
    if (child) {
      // Deleting the tun makes wireguard-go exit on its own; stop it if it lingers.
      await this.stopChild(child);
    } else {
      for (let i = 0; i < 40 && (await this.answers()); i++) await sleep(50);
    }
    for (const path of [this.socketPath, this.controlSocketPath]) {
      if (!existsSync(path)) continue;
      try {
        unlinkSync(path);
      } catch {
        // Already gone (wireguard-go and trellis-wg remove their sockets on exit).
      }
    }
  }

  private async stopChild(child: ChildProcess): Promise<void> {
    const gone = () => child.exitCode !== null || child.signalCode !== null;
    const waitExit = async (ms: number) => {
      for (let t = 0; t < ms && !gone(); t += 25) await sleep(25);
    };
    await waitExit(2_000);
    if (!gone()) {
      child.kill('SIGTERM');
      await waitExit(1_000);
    }
    if (!gone()) {
      child.kill('SIGKILL');
      await waitExit(1_000);
    }
    if (this.child === child) this.child = null;
  }
}
