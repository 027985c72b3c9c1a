/**
 * Lab processes: spawned detached (their own process group) with output to a log file, so the CLI
 * that started them can exit while they run, and stopped by group so their children go too.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { errors } from '../errors';

/** spawnDetached starts cmd in a new process group with stdout/stderr appended to logFile. */
export function spawnDetached(cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  mkdirSync(dirname(logFile), { recursive: true, mode: 0o700 });
  const fd = openSync(logFile, 'a', 0o600);
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env });
    return new Promise((resolve, reject) => {
      child.once('error', (e) => reject(errors.lab(`cannot start ${cmd}: ${e.message}`)));
      child.once('spawn', () => {
        child.unref();
        resolve(child.pid!);
      });
    });
  } finally {
    closeSync(fd);
  }
}

/** isAlive reports whether pid runs (a zombie counts as gone). */
export function isAlive(pid: number | null): boolean {
  if (pid === null || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** cmdlineOf returns a process's arguments, or null if it is gone. */
export function cmdlineOf(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  } catch {
    return null;
  }
}

/** isLabProcess guards against pid reuse: only a process running the trellis CLI is ours. */
export function isLabProcess(pid: number | null, cliPath: string): boolean {
  if (pid === null || !isAlive(pid)) return false;
  const argv = cmdlineOf(pid);
  return argv !== null && argv.some((a) => a === cliPath || a.endsWith('/cli/main.js'));
}

/**
 * signalGroup sends sig to pid's process group, and to pid itself only when it left the group:
 * a second SIGTERM reaching `trellis up` means "exit now" and would skip its clean shutdown.
 */
export function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // no such group any more
  }
  if (processGroupOf(pid) === pid) return;
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** processGroupOf reads a process's group id from /proc; null when it is gone. */
function processGroupOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return null;
  }
}

/** waitForExit polls until pid is gone; false on timeout. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

/** terminateGroup sends SIGTERM to the group, waits up to graceMs, then SIGKILLs what is left. */
export async function terminateGroup(pid: number, graceMs = 5000): Promise<void> {
  if (!isAlive(pid)) return;
  signalGroup(pid, 'SIGTERM');
  if (await waitForExit(pid, graceMs)) {
    signalGroup(pid, 'SIGKILL'); // stragglers in the group
    return;
  }
  signalGroup(pid, 'SIGKILL');
  await waitForExit(pid, 2000);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
