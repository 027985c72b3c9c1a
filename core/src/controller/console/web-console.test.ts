import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startController, type RunningController } from '../controller';

// At least 256 bits by the controller's estimate (length × log2 of the character classes used).
const TOKEN = 'Console-Test-Admin-Token-0123456789-abcdefghijklmnop';
let dir: string;
let c: RunningController;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-console-'));
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ controller: { plugins: [{ name: 'alerts-live', config: { evaluateEverySeconds: 1 } }] } }));
  c = await startController({ listen: '127.0.0.1:0', dataDir: join(dir, 'data'), log: pino({ level: 'silent' }), adminToken: TOKEN, configFile: config });
});

afterAll(async () => {
  await c?.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(c.url + path, { headers, redirect: 'manual' });
const login = (token: string) =>
  fetch(c.url + '/console/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }).toString(), redirect: 'manual' });

test('without a session /console is the login form and the API refuses', async () => {
  const page = await get('/console');
  expect(page.status).toBe(200);
  expect(await page.text()).toMatch(/<form method="post" action="\/console\/login"/);
  expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
  expect((await get('/console/api/snapshot')).status).toBe(401);
  expect((await get('/console/api/events')).status).toBe(401);
  expect((await get('/console/api/snapshot', { cookie: 'trellis_console=' + 'A'.repeat(43) })).status).toBe(401);
});

test('a wrong token is refused with a visible error and audited', async () => {
  const res = await login('wrong-token-wrong-token');
  expect(res.status).toBe(401);
  expect(res.headers.get('set-cookie')).toBeNull();
  expect(await res.text()).toMatch(/id="login-error"[^>]*>Wrong admin token/);
  const audit = await c.store.listAudit(5);
  expect(audit.some((a) => a.action === 'auth.failure' && (a.details as { route?: string }).route === 'POST /console/login')).toBe(true);
});

test('the admin token logs in: HttpOnly SameSite=Strict cookie, snapshot with the alerts panel, SSE, logout', async () => {
  const res = await login(TOKEN);
  expect(res.status).toBe(303);
  expect(res.headers.get('location')).toBe('/console');
  const setCookie = res.headers.get('set-cookie')!;
  expect(setCookie).toMatch(/^trellis_console=[A-Za-z0-9_-]{43}; Path=\/console; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
  const cookie = setCookie.split(';')[0]!;
  const page = await get('/console', { cookie });
  expect(await page.text()).toMatch(/<script src="\/console\/app.js" defer><\/script>/);
  const js = await get('/console/app.js');
  expect(js.headers.get('content-type')).toMatch(/javascript/);
  const snap = (await (await get('/console/api/snapshot', { cookie })).json()) as { nodes: unknown[]; paths: unknown[]; alerts: { active: unknown[]; thresholds: { lossMaxPercent: number } } | null; history: boolean; audit: Array<{ action: string }> };
  expect(snap.nodes).toEqual([]);
  expect(snap.alerts).not.toBeNull();
  expect(snap.alerts!.thresholds.lossMaxPercent).toBe(2);
  expect(snap.history).toBe(false);
  expect(snap.audit.some((a) => a.action === 'console.login')).toBe(true);
  expect((await get('/console/api/history', { cookie })).status).toBe(404);

  // SSE: the first snapshot arrives at once.
  const first = await new Promise<string>((resolve, reject) => {
    const req = httpRequest(c.url + '/console/api/events', { headers: { cookie } }, (r) => {
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toMatch(/text\/event-stream/);
      let buf = '';
      r.on('data', (d) => {
        buf += d;
        if (buf.includes('\n\n')) {
          req.destroy();
          resolve(buf);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
  expect(first).toMatch(/^event: snapshot\ndata: \{"at":/);

  const out = await fetch(c.url + '/console/logout', { method: 'POST', headers: { cookie }, redirect: 'manual' });
  expect(out.status).toBe(303);
  expect(out.headers.get('set-cookie')).toMatch(/Max-Age=0/);
  expect((await get('/console/api/snapshot', { cookie })).status).toBe(401);
});

test('plugin admin routes are served behind the admin token', async () => {
  expect((await get('/v1/admin/alerts')).status).toBe(401);
  const res = await get('/v1/admin/alerts', { authorization: `Bearer ${TOKEN}` });
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ active: [], recent: [], deliveries: [], evaluateEverySeconds: 1 });
});
