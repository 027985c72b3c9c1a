import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { defaultRulesFile, labPrometheusState, LAB_PROMETHEUS_CONFIG, scrapeConfig, writeAgentTargets } from './lab-prometheus';

describe('lab Prometheus files', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'trellis-labprom-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a scrape config and target list that promtool check config accepts, with the shipped rules', () => {
    const cli = resolve(__dirname, '..', '..', 'dist', 'cli', 'main.js');
    const rules = defaultRulesFile(cli);
    expect(rules).toBe(resolve(__dirname, '..', '..', '..', 'dashboards', 'prometheus', 'trellis-rules.yml'));
    const p = labPrometheusState(dir, '127.0.0.1:9090', '198.18.0.1:4567', rules);
    expect(p.configFile).toBe(join(dir, 'prometheus', LAB_PROMETHEUS_CONFIG));
    writeAgentTargets(p, [{ underlay: '198.18.0.11' }, { underlay: '198.18.0.12' }]);
    expect(JSON.parse(readFileSync(p.agentTargetsFile, 'utf8'))).toEqual([{ targets: ['198.18.0.11:9464'] }, { targets: ['198.18.0.12:9464'] }]);
    writeFileSync(p.configFile, scrapeConfig(p));
    const out = execFileSync('promtool', ['check', 'config', p.configFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    // promtool loaded every rule of the shipped file (alerts are added over time), the lab's own among them.
    const names = [...readFileSync(rules!, 'utf8').matchAll(/^\s+- (?:alert|record): (\S+)$/gm)].map((m) => m[1]!);
    expect(out).toContain(`SUCCESS: ${names.length} rules found`);
    expect(names).toEqual(expect.arrayContaining(['TrellisTunnelDown', 'TrellisPathLoss', 'TrellisNodesOffline', 'node_peer:trellis_probes_lost:ratio']));
    expect(scrapeConfig(p)).toContain('targets: ["198.18.0.1:4567"]');
  });
});
