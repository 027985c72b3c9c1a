import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generate } from './generate';
import { alertingRules, promDuration, PROMETHEUS_RULES_FILE, prometheusRulesYaml } from './prometheus-rules';
import { loadThresholds, resolveThresholds } from './thresholds';

const FIXTURES = join(__dirname, 'fixtures', 'prometheus-rules');
const COMMITTED = resolve(__dirname, '..', '..', '..', 'dashboards', PROMETHEUS_RULES_FILE);
/** The recorded series the alerts and the dashboards read (alerts are listed by the rules fixtures). */
const RECORDED_SERIES = ['node_peer:trellis_probe_rtt_seconds:p95', 'node_peer:trellis_probes_lost:ratio', 'node_peer:trellis_peer_jitter_seconds:avg'];

/** ruleNames lists every `- alert:` and `- record:` name of a rules file, in order. */
function ruleNames(yaml: string): string[] {
  return [...yaml.matchAll(/^\s+- (?:alert|record): (\S+)$/gm)].map((m) => m[1]!);
}

/** promtool runs Debian's promtool (installed by scripts/setup.sh); its output is the failure message. */
function promtool(args: string[]): string {
  try {
    return execFileSync('promtool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

describe('Prometheus rules', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'trellis-prom-rules-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('dashboards/prometheus/trellis-rules.yml is what generate() gives and passes promtool check rules', () => {
    expect(readFileSync(COMMITTED, 'utf8')).toBe(generate().files.get(PROMETHEUS_RULES_FILE));
    // promtool loads every rule the file holds; the rules these tests rely on are among them (others add alerts).
    const names = ruleNames(readFileSync(COMMITTED, 'utf8'));
    expect(promtool(['check', 'rules', COMMITTED])).toContain(`SUCCESS: ${names.length} rules found`);
    const tested = [...readFileSync(join(FIXTURES, 'defaults', 'rules.test.yml'), 'utf8').matchAll(/alertname: (\w+)/g)].map((m) => m[1]!);
    expect(new Set(tested).size).toBeGreaterThanOrEqual(10);
    expect(names).toEqual(expect.arrayContaining([...RECORDED_SERIES, ...tested]));
  });

  it('the committed rules fire and stay quiet as the default-threshold unit tests expect (promtool test rules)', () => {
    copyFileSync(COMMITTED, join(dir, 'trellis-rules.yml'));
    copyFileSync(join(FIXTURES, 'defaults', 'rules.test.yml'), join(dir, 'rules.test.yml'));
    expect(promtool(['test', 'rules', join(dir, 'rules.test.yml')])).toMatch(/SUCCESS/);
  });

  it('per-path RTT limits, realtime paths and another loss limit from a thresholds file (promtool test rules)', () => {
    const t = loadThresholds(join(FIXTURES, 'path-limits', 'thresholds.json'));
    writeFileSync(join(dir, 'trellis-rules.yml'), prometheusRulesYaml(t, ['path-limits fixture']));
    copyFileSync(join(FIXTURES, 'path-limits', 'rules.test.yml'), join(dir, 'rules.test.yml'));
    expect(promtool(['check', 'rules', join(dir, 'trellis-rules.yml')])).toMatch(/SUCCESS/);
    expect(promtool(['test', 'rules', join(dir, 'rules.test.yml')])).toMatch(/SUCCESS/);
  });

  it('takes every number from the thresholds', () => {
    const t = resolveThresholds({ handshakeMaxAgeSeconds: 300, tunnelForSeconds: 90, lossMaxPercent: 0.5, jitterMaxMs: 12.5, evaluationIntervalSeconds: 30, nodeOfflineForSeconds: 3600 });
    const g = alertingRules(t);
    const byName = new Map(g.rules.map((r) => ['alert' in r ? r.alert : r.record, r]));
    expect(g.interval).toBe('30s');
    expect(byName.get('TrellisTunnelDown')).toMatchObject({ for: '90s', expr: expect.stringContaining('> 300\n') });
    expect(byName.get('TrellisPathLoss')!.expr).toBe('node_peer:trellis_probes_lost:ratio > 0.005');
    expect(byName.get('TrellisRealtimeJitter')!.expr).toBe('node_peer:trellis_peer_jitter_seconds:avg > 0.0125');
    expect(byName.get('TrellisNodesOffline')).toMatchObject({ for: '1h' });
    expect(byName.get('TrellisPostureFailure')).not.toHaveProperty('for');
    writeFileSync(join(dir, 'trellis-rules.yml'), prometheusRulesYaml(t, ['custom']));
    expect(promtool(['check', 'rules', join(dir, 'trellis-rules.yml')])).toMatch(/SUCCESS/);
  });

  it('has no jitter alert when no path is realtime', () => {
    const g = alertingRules(resolveThresholds({ realtimePaths: [] }));
    expect(g.rules.map((r) => ('alert' in r ? r.alert : r.record))).not.toContain('TrellisRealtimeJitter');
  });

  it('promDuration picks the largest whole unit', () => {
    expect([promDuration(45), promDuration(120), promDuration(7200), promDuration(90)]).toEqual(['45s', '2m', '2h', '90s']);
  });
});
