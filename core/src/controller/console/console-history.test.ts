/**
 * The console's history charts come from whatever plugin registers a path history
 * (ControllerAccess.registerPathHistory); here a plugin file that answers once and then fails.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startController, type RunningController } from '../controller';
import { PluginSources } from '../plugin-sources';

const TOKEN = 'Console-History-Admin-Token-0123456789-abcdefghijklmnopQRST';
let dir: string;
let c: RunningController;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-console-history-'));
  writeFileSync(
    join(dir, 'history-plugin.js'),
    `let calls = 0;
    exports.plugin = {
      manifest: { name: 'history-fake', version: '1.0.0', apiRange: '^1.0.0', sides: ['controller'] },
      setup(ctx) {
        ctx.controller.registerPathHistory({
          async p95RttHistory(minutes) {
            if (++calls > 1) throw new Error('store at http://127.0.0.1:9 is not reachable (ECONNREFUSED)');
            return [{ src: 'n1', dst: 'n2', path: 'direct', points: [{ minute: 60 * minutes, p95Ms: 1.5, lossPercent: 0 }] }];
          },
        });
      },
    };`,
  );
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ controller: { plugins: ['./history-plugin.js'] } }));
  c = await startController({ listen: '127.0.0.1:0', dataDir: join(dir, 'data'), log: pino({ level: 'silent' }), adminToken: TOKEN, configFile: join(dir, 'config.json') });
});

afterAll(async () => {
  await c?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function session(): Promise<string> {
  const res = await fetch(c.url + '/console/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: TOKEN }).toString(),
    redirect: 'manual',
  });
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

test('the registered path history feeds the console: the panel shows, series pass through, a failure is a 502 naming it', async () => {
  const cookie = await session();
  const snap = (await (await fetch(c.url + '/console/api/snapshot', { headers: { cookie } })).json()) as { history: boolean };
  expect(snap.history).toBe(true);
  const first = await fetch(c.url + '/console/api/history', { headers: { cookie } });
  expect(first.status).toBe(200);
  expect(await first.json()).toEqual({ series: [{ src: 'n1', dst: 'n2', path: 'direct', points: [{ minute: 3600, p95Ms: 1.5, lossPercent: 0 }] }] });
  const failed = await fetch(c.url + '/console/api/history', { headers: { cookie } });
  expect(failed.status).toBe(502);
  const body = (await failed.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe('TRELLIS_ERR_HISTORY_UNAVAILABLE');
  expect(body.error.message).toContain('ECONNREFUSED');
});

test('without a plugin that provides live alerts the alerts route is not served and the console has no alerts panel', async () => {
  const res = await fetch(c.url + '/v1/admin/alerts', { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(404);
  const cookie = await session();
  const snap = (await (await fetch(c.url + '/console/api/snapshot', { headers: { cookie } })).json()) as { alerts: unknown };
  expect(snap.alerts).toBeNull();
});

test('one source per capability: a second path history or alerts source is refused', () => {
  const sources = new PluginSources();
  sources.registerPathHistory({ p95RttHistory: async () => [] });
  expect(() => sources.registerPathHistory({ p95RttHistory: async () => [] })).toThrow(/already provided/);
  expect(() => sources.registerAlerts({} as never)).toThrow(/alerts\(limit\)/);
  sources.registerAlerts({ alerts: () => ({ active: [], recent: [] }) });
  expect(() => sources.registerAlerts({ alerts: () => ({ active: [], recent: [] }) })).toThrow(/already provided/);
});
