import { DeviceOutput } from './device-output';
import type { Logger } from '../log/logger';

function fakeLog() {
  const entries: Array<{ fields: Record<string, unknown>; msg: string }> = [];
  const log = { warn: (fields: Record<string, unknown>, msg: string) => void entries.push({ fields, msg }) } as unknown as Logger;
  return { log, entries };
}

describe('DeviceOutput', () => {
  it('logs each line of either stream once it is complete, without the banner box and blank lines', () => {
    const { log, entries } = fakeLog();
    const out = new DeviceOutput(log, 'wg0');
    out.write('stdout', 'ERROR: (wg0) 2026/12/07 Failed to write packets to TUN dev');
    expect(entries).toEqual([]);
    out.write('stdout', 'ice: input/output error\n\n');
    out.write('stderr', '┌──────┐\n│ W A R N I N G │\n└──────┘\npanic: runtime error\n');
    expect(entries.map((e) => [e.fields.stream, e.fields.line])).toEqual([
      ['stdout', 'ERROR: (wg0) 2026/12/07 Failed to write packets to TUN device: input/output error'],
      ['stderr', 'panic: runtime error'],
    ]);
    expect(entries[0]!.fields.iface).toBe('wg0');
    out.write('stderr', 'goroutine 1 [running]:');
    out.end();
    expect(entries.at(-1)!.fields.line).toBe('goroutine 1 [running]:');
  });

  it('logs at most maxLines a window and says how many it held back, once, when the window ends or at exit', () => {
    const { log, entries } = fakeLog();
    let now = 0;
    const out = new DeviceOutput(log, 'wg0', { maxLines: 3, windowMs: 10_000, now: () => now });
    for (let i = 0; i < 100; i++) out.write('stdout', `ERROR: (wg0) write failed ${i}\n`);
    expect(entries.map((e) => e.fields.line)).toEqual(['ERROR: (wg0) write failed 0', 'ERROR: (wg0) write failed 1', 'ERROR: (wg0) write failed 2']);
    now = 10_000;
    out.write('stdout', 'ERROR: (wg0) write failed 100\n');
    expect(entries.slice(3).map((e) => e.fields.suppressed ?? e.fields.line)).toEqual([97, 'ERROR: (wg0) write failed 100']);
    expect(entries[3]!.msg).toBe('wireguard-go printed 97 more lines; at most 3 are logged every 10 s');
    for (let i = 0; i < 5; i++) out.write('stderr', `again ${i}\n`);
    out.end();
    expect(entries.slice(5).map((e) => e.fields.suppressed ?? e.fields.line)).toEqual(['again 0', 'again 1', 3]);
    out.end();
    expect(entries).toHaveLength(8);
  });

  it('logs an endless line in pieces instead of holding it', () => {
    const { log, entries } = fakeLog();
    const out = new DeviceOutput(log, 'wg0');
    out.write('stderr', 'x'.repeat(1500));
    out.write('stderr', 'x'.repeat(1500));
    expect(entries).toHaveLength(1);
    expect((entries[0]!.fields.line as string).length).toBe(3000);
  });
});
