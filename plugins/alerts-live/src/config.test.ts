import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { PluginHost } from '@trellis/core';
import type { AlertsSource, TrellisPlugin } from '@trellis/core/api';
import { resolveAlertsConfig } from './config';
import { createAlertsLivePlugin } from './plugin';

/** The host takes plugins of any config type: it checks the config against the plugin's schema. */
const alertsLive = () => createAlertsLivePlugin() as TrellisPlugin;

describe('alerts-live thresholds', () => {
  test('defaults come from the Grafana plugin; overrides are layered over them', () => {
    const c = resolveAlertsConfig({ thresholds: { lossForSeconds: 3 } });
    expect(c.thresholds.lossForSeconds).toBe(3);
    expect(c.thresholds.lossMaxPercent).toBe(2);
    expect(c.evaluateEverySeconds).toBe(5);
  });

  test.each([
    [{ lossMaxPercent: -1 }, /"lossMaxPercent" must be a percentage/],
    [{ lossMaxPercent: 150 }, /"lossMaxPercent" must be a percentage greater than 0 and at most 100/],
    [{ handshakeMaxAgeSeconds: -5 }, /"handshakeMaxAgeSeconds" must be whole seconds/],
    [{ lossMaxPercentt: 2 }, /"lossMaxPercentt" is not a known threshold/],
  ])('%j is refused with the key named', (thresholds, message) => {
    expect(() => resolveAlertsConfig({ thresholds })).toThrow(message);
  });

  test('a thresholds file is read; a missing one is a clear error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'alerts-cfg-'));
    try {
      writeFileSync(join(dir, 't.yaml'), 'lossMaxPercent: 5\n');
      expect(resolveAlertsConfig({ thresholds: join(dir, 't.yaml') }).thresholds.lossMaxPercent).toBe(5);
      writeFileSync(join(dir, 'bad.json'), '{"jitterMaxMs": 0}');
      expect(() => resolveAlertsConfig({ thresholds: join(dir, 'bad.json') })).toThrow(/"jitterMaxMs" must be a number greater than 0/);
      expect(() => resolveAlertsConfig({ thresholds: join(dir, 'nope.json') })).toThrow(/TRELLIS_ERR_ALERTS_CONFIG_INVALID|could not be read/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('bad thresholds disable the plugin at setup (the host keeps running); a bad shape stops the host', async () => {
    const log = pino({ level: 'silent' });
    const routes: string[] = [];
    const controller = { dataDir: tmpdir(), requestMapRebuild: () => undefined, audit: () => undefined, registerAdminRoute: (p: string) => void routes.push(p) };
    const host = new PluginHost('controller', log);
    await host.start([{ plugin: alertsLive(), config: { thresholds: { lossMaxPercent: 101 } } }], { controller });
    expect(host.names()).toEqual([]);
    expect(routes).toEqual([]);
    const strict = new PluginHost('controller', log);
    await expect(strict.start([{ plugin: alertsLive(), config: { webhook: 'http://x' } }], { controller })).rejects.toThrow(/config of plugin "alerts-live" is invalid.*"webhook"/);
    const good = new PluginHost('controller', log);
    await good.start([{ plugin: alertsLive(), config: { webhooks: [{ url: 'http://127.0.0.1:9/x' }] } }], { controller });
    expect(good.names()).toEqual(['alerts-live']);
    expect(routes).toEqual(['/v1/admin/alerts']);
    await good.shutdown();
  });

  test('on a controller with the live-alerts extension point it registers a source, not a route', async () => {
    const routes: string[] = [];
    const sources: AlertsSource[] = [];
    const controller = {
      dataDir: tmpdir(),
      requestMapRebuild: () => undefined,
      audit: () => undefined,
      registerAdminRoute: (p: string) => void routes.push(p),
      registerAlerts: (s: AlertsSource) => void sources.push(s),
    };
    const host = new PluginHost('controller', pino({ level: 'silent' }));
    await host.start([{ plugin: alertsLive(), config: {} }], { controller });
    expect(routes).toEqual([]);
    expect(sources).toHaveLength(1);
    expect(await sources[0]!.alerts(5)).toMatchObject({ active: [], recent: [], deliveries: [] });
    await host.shutdown();
  });
});
