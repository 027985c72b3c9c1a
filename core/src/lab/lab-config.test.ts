import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeLabConfig } from './lab-config';

describe('writeLabConfig', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'trellis-labcfg-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('adds telemetry-clickhouse to the controller, keeping the user config and making relative plugin paths absolute', () => {
    const user = join(dir, 'user.yaml');
    writeFileSync(user, 'controller:\n  plugins: [facts-host, ./local-plugin.js]\nagent:\n  plugins: [facts-host]\n');
    const out = writeLabConfig(join(dir, 'ctl', 'lab-config.json'), user, { url: 'http://127.0.0.1:8123' });
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.agent.plugins).toEqual(['facts-host']);
    expect(doc.controller.plugins[0]).toBe('facts-host');
    expect(doc.controller.plugins[1]).toBe(join(dir, 'local-plugin.js'));
    expect(doc.controller.plugins[2]).toEqual({
      name: 'telemetry-clickhouse',
      config: { url: 'http://127.0.0.1:8123', database: 'trellis', spoolDir: join(dir, 'ctl', 'clickhouse-spool') },
    });
  });

  it('replaces an existing telemetry-clickhouse entry, keeping its other options', () => {
    const user = join(dir, 'user.json');
    writeFileSync(user, JSON.stringify({ controller: { plugins: [{ name: 'telemetry-clickhouse', config: { url: 'http://old:1', batchMaxMs: 50 } }] } }));
    const doc = JSON.parse(readFileSync(writeLabConfig(join(dir, 'c.json'), user, { url: 'http://127.0.0.1:9000', database: 'lab' }), 'utf8'));
    expect(doc.controller.plugins).toHaveLength(1);
    expect(doc.controller.plugins[0].config).toMatchObject({ url: 'http://127.0.0.1:9000', database: 'lab', batchMaxMs: 50 });
  });

  it('refuses a URL that is not http(s)', () => {
    expect(() => writeLabConfig(join(dir, 'c.json'), null, { url: 'tcp://x:9000' })).toThrow(/--clickhouse/);
  });

  it('for the lab Prometheus, puts metrics-prometheus on both sides at scrapeable addresses, keeping the rest of an existing entry', () => {
    const user = join(dir, 'user.json');
    writeFileSync(user, JSON.stringify({ agent: { plugins: ['facts-host', { name: 'metrics-prometheus', config: { listen: '127.0.0.1:1' } }] } }));
    const out = writeLabConfig(join(dir, 'c.json'), user, null, { controller: '198.18.0.1:4000', agent: '0.0.0.0:9464' });
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.agent.plugins).toEqual(['facts-host', { name: 'metrics-prometheus', config: { listen: '0.0.0.0:9464' } }]);
    expect(doc.controller.plugins).toEqual([{ name: 'metrics-prometheus', config: { listen: '198.18.0.1:4000' } }]);
  });

  it('merges ClickHouse and Prometheus together', () => {
    const doc = JSON.parse(readFileSync(writeLabConfig(join(dir, 'c.json'), null, { url: 'http://127.0.0.1:8123' }, { controller: '198.18.0.1:4000', agent: '0.0.0.0:9464' }), 'utf8'));
    expect(doc.controller.plugins.map((p: { name: string }) => p.name)).toEqual(['telemetry-clickhouse', 'metrics-prometheus']);
  });
});
