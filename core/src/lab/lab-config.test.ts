import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LAB_SERVICE_NAMES } from '../api/lab-wiring';
import { readServicesFile, writeLabConfig, type LabServicePlugins } from './lab-config';

/** Two plugins as a plugin author writes them: one serves the lab's ClickHouse, one its Prometheus. */
const SINK_PLUGIN = `module.exports = { plugin: {
  manifest: { name: 'sink', version: '1.0.0', apiRange: '^1.0.0', sides: ['controller'] },
  lab: { config: (side, s, current) => s.clickhouse ? { spool: s.configDir + '/sink-spool', ...current, url: s.clickhouse.url, database: s.clickhouse.database ?? current.database ?? 'trellis' } : null },
} };
`;
const SCRAPED_PLUGIN = `module.exports = { plugin: {
  manifest: { name: 'scraped', version: '1.0.0', apiRange: '^1.0.0', sides: ['agent', 'controller'] },
  lab: { config: (side, s, current) => s.prometheus ? { ...current, listen: s.prometheus.listen[side] } : null },
} };
`;
const SCRAPE = { listen: { controller: '198.18.0.1:4000', agent: '0.0.0.0:9464' } };

describe('writeLabConfig', () => {
  let dir: string;
  let services: LabServicePlugins;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'trellis-labcfg-'));
    writeFileSync(join(dir, 'sink.js'), SINK_PLUGIN);
    writeFileSync(join(dir, 'scraped.js'), SCRAPED_PLUGIN);
    writeFileSync(join(dir, 'services.yaml'), 'services:\n  clickhouse: [./sink.js]\n  prometheus: [./scraped.js]\n');
    services = readServicesFile(join(dir, 'services.yaml'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("adds the ClickHouse service's plugin to the controller, keeping the user config and making relative plugin paths absolute", () => {
    const user = join(dir, 'user.yaml');
    writeFileSync(user, 'controller:\n  plugins: [facts-host, ./local-plugin.js]\nagent:\n  plugins: [facts-host]\n');
    const out = writeLabConfig(join(dir, 'ctl', 'lab-config.json'), user, { clickhouse: { url: 'http://127.0.0.1:8123' } }, services);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.agent.plugins).toEqual(['facts-host']);
    expect(doc.controller.plugins[0]).toBe('facts-host');
    expect(doc.controller.plugins[1]).toBe(join(dir, 'local-plugin.js'));
    expect(doc.controller.plugins[2]).toEqual({
      name: join(dir, 'sink.js'),
      config: { url: 'http://127.0.0.1:8123', database: 'trellis', spool: join(dir, 'ctl', 'sink-spool') },
    });
  });

  it("replaces the user's entry for that plugin, handing its config to the plugin's wiring", () => {
    const user = join(dir, 'user.json');
    writeFileSync(user, JSON.stringify({ controller: { plugins: [{ name: './sink.js', config: { url: 'http://old:1', batchMaxMs: 50 } }] } }));
    const doc = JSON.parse(readFileSync(writeLabConfig(join(dir, 'c.json'), user, { clickhouse: { url: 'http://127.0.0.1:9000', database: 'lab' } }, services), 'utf8'));
    expect(doc.controller.plugins).toHaveLength(1);
    expect(doc.controller.plugins[0].config).toMatchObject({ url: 'http://127.0.0.1:9000', database: 'lab', batchMaxMs: 50 });
  });

  it('refuses a URL that is not http(s)', () => {
    expect(() => writeLabConfig(join(dir, 'c.json'), null, { clickhouse: { url: 'tcp://x:9000' } }, services)).toThrow(/--clickhouse/);
  });

  it("for the lab Prometheus, puts its plugin on every side its manifest names, at scrapeable addresses, keeping the rest of an existing entry", () => {
    const user = join(dir, 'user.json');
    writeFileSync(user, JSON.stringify({ agent: { plugins: ['facts-host', { name: './scraped.js', config: { listen: '127.0.0.1:1', path: '/m' } }] } }));
    const out = writeLabConfig(join(dir, 'c.json'), user, { prometheus: SCRAPE }, services);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.agent.plugins).toEqual(['facts-host', { name: join(dir, 'scraped.js'), config: { listen: '0.0.0.0:9464', path: '/m' } }]);
    expect(doc.controller.plugins).toEqual([{ name: join(dir, 'scraped.js'), config: { listen: '198.18.0.1:4000' } }]);
  });

  it('merges ClickHouse and Prometheus together, in the order of the services', () => {
    const doc = JSON.parse(readFileSync(writeLabConfig(join(dir, 'c.json'), null, { clickhouse: { url: 'http://127.0.0.1:8123' }, prometheus: SCRAPE }, services), 'utf8'));
    expect(doc.controller.plugins.map((p: { name: string }) => p.name)).toEqual([join(dir, 'sink.js'), join(dir, 'scraped.js')]);
    expect(doc.agent.plugins.map((p: { name: string }) => p.name)).toEqual([join(dir, 'scraped.js')]);
  });

  it('loads no plugin of a service the lab does not run, and puts controller settings over the user’s', () => {
    writeFileSync(join(dir, 'services.yaml'), 'services:\n  clickhouse: [./missing.js]\n  prometheus: [./scraped.js]\n');
    const user = join(dir, 'user.yaml');
    writeFileSync(user, 'controller:\n  settings: { a: 1, topology: { mode: full } }\n');
    const doc = JSON.parse(readFileSync(writeLabConfig(join(dir, 'c.json'), user, { prometheus: SCRAPE }, readServicesFile(join(dir, 'services.yaml')), { topology: { mode: 'hub-and-spoke' } }), 'utf8'));
    expect(doc.controller.plugins.map((p: { name: string }) => p.name)).toEqual([join(dir, 'scraped.js')]);
    expect(doc.controller.settings).toEqual({ a: 1, topology: { mode: 'hub-and-spoke' } });
  });

  it('names the services file and the plugin when a listed plugin cannot be loaded or has no lab wiring', () => {
    writeFileSync(join(dir, 'plain.js'), "module.exports = { plugin: { manifest: { name: 'plain', version: '1.0.0', apiRange: '^1.0.0' } } };\n");
    writeFileSync(join(dir, 'services.yaml'), 'services:\n  clickhouse: [./plain.js]\n  prometheus: [./missing.js]\n');
    const listed = readServicesFile(join(dir, 'services.yaml'));
    expect(() => writeLabConfig(join(dir, 'c.json'), null, { clickhouse: { url: 'http://127.0.0.1:8123' } }, listed)).toThrow(
      /services\.yaml names ".*\/plain\.js" for clickhouse, but the plugin has no lab wiring/,
    );
    expect(() => writeLabConfig(join(dir, 'c.json'), null, { prometheus: SCRAPE }, listed)).toThrow(/services\.yaml names ".*\/missing\.js" for prometheus, but it cannot be loaded/);
    expect(() => writeLabConfig(join(dir, 'c.json'), null, { prometheus: SCRAPE }, null)).toThrow(/prometheus need a services file/);
  });
});

describe('readServicesFile', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'trellis-labsvc-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['services:\n  grafana: [x]\n', /services\.grafana is no service the lab runs \(clickhouse, prometheus\)/],
    ['services:\n  clickhouse: x\n', /services\.clickhouse must be a list of plugin names or paths/],
    ['clickhouse: [x]\n', /must hold `services:`/],
    ['services: [\n', /cannot be read as YAML/],
  ])('refuses %j, saying what is wrong', (text, message) => {
    writeFileSync(join(dir, 's.yaml'), text);
    expect(() => readServicesFile(join(dir, 's.yaml'))).toThrow(message);
  });

  it('says which file is missing', () => {
    expect(() => readServicesFile(join(dir, 'none.yaml'))).toThrow(/no services file at .*none\.yaml/);
  });

  it("reads the repository's deploy/lab/services.yaml: a plugin for every service the lab runs", () => {
    const listed = readServicesFile(resolve(__dirname, '..', '..', '..', 'deploy', 'lab', 'services.yaml'));
    for (const service of LAB_SERVICE_NAMES) expect(listed.plugins[service]?.length).toBeGreaterThan(0);
  });
});
