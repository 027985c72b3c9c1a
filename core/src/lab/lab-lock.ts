/**
 * One lab at a time: the lab's names (namespaces, bridge, addresses) are fixed, so a second lab would
 * tear the first one down. Lab.up takes this lock first and waits while a live process holds it;
 * a lock whose owner died is taken over.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errors } from '../errors';

const LOCK_DIR = process.env.TRELLIS_LAB_LOCK ?? '/run/trellis-lab.lock';
let held = false;

function ownerOf(): number | null {
  try {
    const pid = Number(readFileSync(join(LOCK_DIR, 'owner'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** acquireLabLock waits (up to timeoutMs) until no other live process holds the lab. */
export async function acquireLabLock(timeoutMs = 15 * 60_000, onWait?: (owner: number) => void): Promise<void> {
  if (held) return;
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      writeFileSync(join(LOCK_DIR, 'owner'), `${process.pid}\n`);
      held = true;
      process.once('exit', releaseLabLock);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = ownerOf();
    if (owner === process.pid) {
      held = true;
      return;
    }
    if (owner === null || !alive(owner)) {
      // The owner died (or is still writing its pid: give it a moment before taking over).
      if (owner !== null || Date.now() > deadline - timeoutMs + 1000) rmSync(LOCK_DIR, { recursive: true, force: true });
    } else {
      if (!told) onWait?.(owner);
      told = true;
      if (Date.now() > deadline) throw errors.lab(`another lab is in use by process ${owner}; wait for it or stop it`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** releaseLabLock frees the lock if this process holds it. */
export function releaseLabLock(): void {
  if (!held) return;
  held = false;
  if (ownerOf() === process.pid) rmSync(LOCK_DIR, { recursive: true, force: true });
}

/**
 * handOverLabLock gives the lock this process holds to another live process, the lab's controller,
 * when the lab outlives this process (`trellis lab up` returns while the lab keeps running). Without
 * it the next Lab.up (a test, a benchmark) would see no live owner and clear the running lab.
 * `lab down` stops the controller, and a lock whose owner died is taken over as usual.
 */
export function handOverLabLock(pid: number): void {
  if (!held) return;
  writeFileSync(join(LOCK_DIR, 'owner'), `${pid}\n`);
  held = false;
}
