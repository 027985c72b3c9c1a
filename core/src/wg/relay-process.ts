/**
 * RelayProcess runs `trellis-wg relay` (PROTOCOL.md, "Relay"), the keyless WireGuard forwarder of
 * a relay node, as a child process, and hands back its RelayControl once the control socket
 * answers. The relay starts with no key and an empty allow-list: it forwards nothing until the
 * agent configures it. stop() ends it and removes its control socket, also after a kill.
 *
 *   const relay = await RelayProcess.start({ port: 3479, controlSocket: nodeRelayControlSocketPath('trlwg1') });
 *   await relay.control.configure({ privateKey, pairs });
 *   await relay.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, unlinkSync } from 'node:fs';
import { errors } from '../errors';
import type { Logger } from '../log/logger';
import { BUNDLED_TRELLIS_WG } from './trellis-wg';
import { RelayControl } from './relay-control';

export interface RelayProcessOptions {
  /** UDP port the relay serves (IPv4 and IPv6). */
  port: number;
  /** Where its control socket goes; unique on the machine (the directory is shared by every network namespace). */
  controlSocket: string;
  /** The trellis-wg binary; default the one setup installs. */
  binary?: string;
  /** Run it inside this network namespace (`ip netns exec`); default the caller's. */
  netns?: string;
  log?: Logger;
  /** How long start() waits for the control socket. Default 5 s. */
  startTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RelayProcess {
  private exited: string | null = null;

  private constructor(
    readonly opts: RelayProcessOptions,
    private readonly child: ChildProcess,
    /** The relay's control connection (configure, info). */
    readonly control: RelayControl,
  ) {
    child.on('exit', (code, signal) => {
      this.exited = signal ? `signal ${signal}` : `exit code ${code}`;
      opts.log?.info({ port: opts.port, pid: child.pid, code, signal }, 'trellis-wg relay exited');
    });
  }

  /** pid of the relay process. */
  get pid(): number | null {
    return this.child.pid ?? null;
  }

  /** running says whether the process is still there. */
  get running(): boolean {
    return this.exited === null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * start spawns the relay and resolves once its control socket answers. A stale socket left by a
   * killed relay is replaced by the relay itself. Rejects with TRELLIS_ERR_DEVICE naming why (the
   * port taken, no binary) and leaves nothing running.
   */
  static async start(opts: RelayProcessOptions): Promise<RelayProcess> {
    const bin = opts.binary ?? BUNDLED_TRELLIS_WG;
    const args = ['relay', '--port', String(opts.port), '--control', opts.controlSocket];
    const [file, argv] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, bin, ...args]] : [bin, args];
    const child = spawn(file, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let failed: string | null = null;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-2000);
      for (const line of chunk.split('\n')) if (line.trim()) opts.log?.warn({ port: opts.port, line: line.trim() }, 'trellis-wg relay');
    });
    child.on('error', (err) => (failed = err.message));
    child.on('exit', (code, signal) => (failed ??= `${signal ? `signal ${signal}` : `exit code ${code}`}${stderr.trim() ? `: ${stderr.trim()}` : ''}`));
    const what = `relay on UDP ${opts.port}`;
    const deadline = Date.now() + (opts.startTimeoutMs ?? 5_000);
    for (;;) {
      if (failed !== null) throw errors.device(what, `trellis-wg relay did not start (${failed}); check ${bin} and that the port is free`);
      if (existsSync(opts.controlSocket)) {
        try {
          const control = await RelayControl.connect(opts.controlSocket, { timeoutMs: 1_000 });
          opts.log?.info({ port: opts.port, pid: child.pid, control: opts.controlSocket }, 'started trellis-wg relay');
          return new RelayProcess(opts, child, control);
        } catch {
          // a stale socket not replaced yet, or the relay still binding: try again
        }
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw errors.device(what, `trellis-wg relay did not open ${opts.controlSocket} within ${(opts.startTimeoutMs ?? 5_000) / 1000} s${stderr.trim() ? ` (${stderr.trim()})` : ''}`);
      }
      await sleep(25);
    }
  }

  /** stop ends the relay (SIGTERM, then SIGKILL after 3 s) and removes its control socket. */
  async stop(): Promise<void> {
    this.control.close();
    if (this.running) {
      const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 3_000);
      await gone;
      clearTimeout(timer);
    }
    try {
      unlinkSync(this.opts.controlSocket);
    } catch {
      // removed by the relay on exit
    }
  }
}
