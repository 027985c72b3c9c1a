import { ConsoleSessions, sessionIdFrom } from './console-sessions';

test('a session is valid until logout, its idle timeout, or its maximum age', () => {
  let now = 0;
  const s = new ConsoleSessions({ clock: () => now, idleMs: 1000, maxAgeMs: 5000 });
  const a = s.create();
  expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(s.valid(a)).toBe(true);
  now = 999;
  expect(s.valid(a)).toBe(true); // slides the idle timeout
  now = 1998;
  expect(s.valid(a)).toBe(true);
  now = 2998;
  expect(s.valid(a)).toBe(false); // idle for 1000 ms
  const b = s.create();
  for (now = 3000; now < 8000; now += 900) expect(s.valid(b)).toBe(true);
  now = 8000;
  expect(s.valid(b)).toBe(false); // 5000 ms after login, however active
  const c = s.create();
  s.destroy(c);
  expect(s.valid(c)).toBe(false);
  expect(s.valid(undefined)).toBe(false);
  expect(s.valid('not-a-session')).toBe(false);
  expect(s.valid('A'.repeat(43))).toBe(false);
});

test('the number of sessions is bounded; the least recently used goes first', () => {
  let now = 0;
  const s = new ConsoleSessions({ clock: () => now, maxSessions: 2 });
  const a = s.create();
  now = 1;
  const b = s.create();
  now = 2;
  s.valid(a);
  now = 3;
  const c = s.create();
  expect([s.valid(a), s.valid(b), s.valid(c)]).toEqual([true, false, true]);
  expect(s.size()).toBe(2);
});

test('sessionIdFrom reads the console cookie among others', () => {
  expect(sessionIdFrom('a=1; trellis_console=xyz; b=2')).toBe('xyz');
  expect(sessionIdFrom('a=1')).toBeUndefined();
  expect(sessionIdFrom(undefined)).toBeUndefined();
});
