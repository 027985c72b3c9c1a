import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type LockModule = typeof import('./lab-lock');
const dir = mkdtempSync(join(tmpdir(), 'trellis-lab-lock-'));
const lockDir = join(dir, 'lock');

/** A fresh copy of the module: each stands for another process's view of the lock. */
function lockModule(): LockModule {
  let m: LockModule | undefined;
  jest.isolateModules(() => {
    m = require('./lab-lock') as LockModule;
  });
  return m!;
}

beforeAll(() => {
  process.env.TRELLIS_LAB_LOCK = lockDir;
});
afterAll(() => {
  delete process.env.TRELLIS_LAB_LOCK;
  rmSync(dir, { recursive: true, force: true });
});

it('a lab handed over to its live controller stays locked, and is taken over once that process is gone', async () => {
  const controller = spawn('sleep', ['30'], { stdio: 'ignore' });
  const cli = lockModule();
  await cli.acquireLabLock(1_000);
  cli.handOverLabLock(controller.pid!);
  cli.releaseLabLock(); // the CLI exiting no longer frees the lock
  expect(readFileSync(join(lockDir, 'owner'), 'utf8').trim()).toBe(String(controller.pid));

  const test = lockModule();
  await expect(test.acquireLabLock(600)).rejects.toThrow(`another lab is in use by process ${controller.pid}`);

  controller.kill('SIGKILL');
  await new Promise((r) => controller.once('exit', r));
  await test.acquireLabLock(2_000);
  expect(readFileSync(join(lockDir, 'owner'), 'utf8').trim()).toBe(String(process.pid));
  test.releaseLabLock();
});
