/**
 * metrics-prometheus on a lab, scraped by a real Prometheus (Debian's prometheus 2.42, started by
 * `Lab.up({ prometheus })` on a free port, its TSDB in a temp dir): an agent's and the controller's
 * /metrics pass `promtool check metrics`; through Prometheus' HTTP API, PromQL finds a per-path
 * RTT series for every ordered pair of the 3 nodes and the controller's node count of 3, every
 * target identifies itself, and the shipped rules (dashboards/prometheus/trellis-rules.yml) load,
 * evaluate on the lab's series and raise no structural alert on a healthy mesh; a plugin's instruments (shaping-tc)
 * arrive the same way. `down` stops Prometheus too.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectLabStatus } from '../core/src/cli/commands/lab-status-command';
import { Lab, defaultCliPath } from '../core/src/lab/lab';
import { isAlive } from '../core/src/lab/process-group';
import { LAB_SCRAPE_INTERVAL_S, defaultRulesFile, strayLabPrometheusPids } from '../core/src/lab/lab-prometheus';
import { generate } from '@trellis/plugin-dashboards-grafana';
import { waitFor } from './support/wait';

jest.setTimeout(240_000);

let dir: string;
let lab: Lab | null = null;
let promUrl: string;
let controllerMetrics: string;

const NODES = ['n1', 'n2', 'n3'];
const PAIRS = NODES.flatMap((a) => NODES.filter((b) => b !== a).map((b) => `${a}->${b}`)).sort();

const promtool = (text: string) => execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** query runs an instant PromQL query through Prometheus' HTTP API. */
async function query(promql: string): Promise<Sample[]> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; data: { resultType: string; result: Sample[] }; error?: string };
  if (body.status !== 'success') throw new Error(`PromQL ${promql}: ${body.error}`);
  return body.data.result;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-prom-e2e-'));
  const config = join(dir, 'config.json');
  // The lab puts metrics-prometheus on both sides (listening where its Prometheus can scrape) over
  // this config; shaping-tc adds a plugin's own instruments (trellis_shaping_*).
  const office = {
    name: 'office',
    linkRateMbit: 100,
    ingressRateMbit: 100,
    classes: {
      realtime: { rateMbit: 10, ceilMbit: 100, priority: 0 },
      critical: { rateMbit: 20, ceilMbit: 100, priority: 1 },
      default: { rateMbit: 40, ceilMbit: 100, priority: 2 },
      bulk: { rateMbit: 10, ceilMbit: 50, priority: 3, match: { ports: [{ proto: 'tcp', from: 5201 }] } },
    },
  };
  writeFileSync(
    config,
    JSON.stringify({
      controller: { plugins: [{ name: 'shaping-tc', config: { profiles: { office }, assign: [], default: 'office' } }] },
      agent: { plugins: ['facts-host', { name: 'shaping-tc', config: { statsIntervalMs: 1000 } }] },
    }),
  );
  // The shipped rules, evaluated every scrape instead of once a minute so the test need not wait
  // for minute-long rule rounds: the copy differs from the shipped file in its groups' interval only.
  const shipped = readFileSync(defaultRulesFile(defaultCliPath())!, 'utf8');
  const rulesFile = join(dir, 'dashboards', 'prometheus', 'trellis-rules.yml');
  const rules = shipped.replace(/^(\s+interval:) 1m$/gm, `$1 ${LAB_SCRAPE_INTERVAL_S}s`);
  const withoutIntervals = (yaml: string) => yaml.replace(/^(\s+interval:) \S+$/gm, '$1');
  expect(rules.match(/^\s+interval: 1m$/gm)).toBeNull();
  expect(withoutIntervals(rules)).toBe(withoutIntervals(shipped));
  mkdirSync(join(dir, 'dashboards', 'prometheus'), { recursive: true });
  writeFileSync(rulesFile, rules);
  const port = await freePort();
  lab = await Lab.up({ nodes: 3, configFile: config, dir: join(dir, 'lab'), prometheus: { listen: `127.0.0.1:${port}`, rulesFile } });
  const p = lab.describe().prometheus!;
  promUrl = p.url;
  controllerMetrics = `http://${p.targets.controller}/metrics`;
  expect(promUrl).toBe(`http://127.0.0.1:${port}`);
});

afterAll(async () => {
  try {
    await lab?.down();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an agent's /metrics passes promtool and has the per-peer RTT histogram", async () => {
  const l = lab!;
  const { value: text } = await waitFor(
    'RTT histogram series for both peers on n1',
    async () => {
      const r = await l.exec('n1', 'curl', ['-sf', 'http://127.0.0.1:9464/metrics']);
      if (r.code !== 0) return null;
      return /trellis_probe_rtt_seconds_bucket\{peer="n2",/.test(r.stdout) && /trellis_probe_rtt_seconds_bucket\{peer="n3",/.test(r.stdout) ? r.stdout : null;
    },
    30_000,
    500,
  );
  promtool(text);
  expect(text).toMatch(/# TYPE trellis_probe_rtt_seconds histogram/);
  expect(text).toMatch(/trellis_probe_rtt_seconds_count\{peer="n2",service_name="trellis-agent",node="n1"\} [1-9]/);
  expect(text).toMatch(/trellis_peer_handshake_age_seconds\{peer="n2",service_name="trellis-agent",node="n1"\} /);
  expect(text).toMatch(/trellis_tunnels\{state="up",service_name="trellis-agent",node="n1"\} 2/);
  expect(text).toMatch(/trellis_netmap_version\{service_name="trellis-agent",node="n1"\} [1-9]/);
  expect(text).toMatch(/^nodejs_heap_size_used_bytes\{service_name="trellis-agent",node="n1"\} \d/m);
});

test("the controller's /metrics passes promtool and counts online nodes and telemetry", async () => {
  const { value: text } = await waitFor(
    'controller metrics with telemetry rows',
    async () => {
      const res = await fetch(controllerMetrics);
      const t = await res.text();
      return res.ok && /trellis_telemetry_rows_total\{kind="probes"/.test(t) ? t : null;
    },
    30_000,
    500,
  );
  promtool(text);
  expect(text).toMatch(/trellis_nodes_online\{service_name="trellis-controller",node="[^"]+"\} 3/);
  expect(text).toMatch(/trellis_stream_clients\{service_name="trellis-controller",node="[^"]+"\} 3/);
  expect(text).toMatch(/# TYPE trellis_api_request_duration_seconds histogram/);
  expect(text).toMatch(/# TYPE trellis_map_build_duration_seconds histogram/);
  expect(text).toMatch(/^process_cpu_seconds_total\{service_name="trellis-controller",node="[^"]+"\} /m);
});

test('Prometheus scrapes the controller and all three agents from the lab scrape config', async () => {
  const { value: targets } = await waitFor(
    'four healthy targets',
    async () => {
      const body = (await (await fetch(`${promUrl}/api/v1/targets?state=active`)).json()) as {
        data: { activeTargets: Array<{ labels: Record<string, string>; health: string; lastError: string }> };
      };
      const t = body.data.activeTargets;
      return t.length === 4 && t.every((x) => x.health === 'up') ? t : null;
    },
    60_000,
    1000,
  );
  expect((await collectLabStatus(lab!)).prometheus).toMatchObject({ url: promUrl, running: true, ready: true, targetsUp: 4, targets: 4 });
  expect(targets.map((t) => `${t.labels.job} ${t.labels.instance}`).sort()).toEqual([
    ...lab!.describe().nodes.map((n) => `trellis-agent ${n.underlay}:9464`),
    `trellis-controller ${lab!.describe().prometheus!.targets.controller}`,
  ].sort());
});

test('PromQL: a per-path RTT series for every ordered pair, and the controller counts 3 nodes', async () => {
  // Mean RTT per path over the last 30 s: needs two scrapes with new probes on every path.
  const promql = 'sum by (node, peer) (rate(trellis_probe_rtt_seconds_sum{job="trellis-agent"}[30s])) / sum by (node, peer) (rate(trellis_probe_rtt_seconds_count{job="trellis-agent"}[30s]))';
  const { value: rtt } = await waitFor(
    'an RTT series for each of the 6 ordered pairs',
    async () => {
      const r = await query(promql);
      return r.length === PAIRS.length && r.every((s) => Number.isFinite(Number(s.value[1]))) ? r : null;
    },
    60_000,
    1000,
  );
  console.log(`${promql}\n${rtt.map((s) => `  ${s.metric.node} -> ${s.metric.peer}: ${(Number(s.value[1]) * 1000).toFixed(3)} ms`).join('\n')}`);
  expect(rtt.map((s) => `${s.metric.node}->${s.metric.peer}`).sort()).toEqual(PAIRS);
  for (const s of rtt) {
    const v = Number(s.value[1]);
    expect(v).toBeGreaterThan(0);
    expect(v).toBeLessThan(0.5); // a lab path on one machine: well under 500 ms
  }

  const nodes = await query('trellis_nodes{job="trellis-controller"}');
  console.log(`trellis_nodes{job="trellis-controller"} = ${nodes.map((s) => `${s.value[1]} ${JSON.stringify(s.metric)}`).join(', ')}`);
  expect(nodes).toHaveLength(1);
  expect(Number(nodes[0]!.value[1])).toBe(3);
  expect(nodes[0]!.metric).toMatchObject({ service_name: 'trellis-controller', job: 'trellis-controller' });
  const online = await query('trellis_nodes_online{job="trellis-controller"}');
  expect(Number(online[0]!.value[1])).toBe(3);
});

test('every target names its service and node; process metrics come from all four processes', async () => {
  const ids = await query('count by (service_name, node) (target_info)');
  const names = ids.map((s) => `${s.metric.service_name}/${s.metric.node}`).sort();
  console.log(`count by (service_name, node) (target_info): ${names.join(', ')}`);
  expect(names.filter((n) => n.startsWith('trellis-agent/'))).toEqual(NODES.map((n) => `trellis-agent/${n}`));
  expect(names.filter((n) => n.startsWith('trellis-controller/'))).toHaveLength(1);
  expect(names.some((n) => n.includes('unknown_service'))).toBe(false);
  const heap = await query('count by (service_name) (nodejs_heap_size_used_bytes)');
  expect(Object.fromEntries(heap.map((s) => [s.metric.service_name, Number(s.value[1])]))).toEqual({ 'trellis-agent': 3, 'trellis-controller': 1 });
  const lag = await query('nodejs_eventloop_lag_seconds{service_name="trellis-agent"}');
  expect(lag).toHaveLength(3);
  const fds = await query('process_open_fds{service_name="trellis-controller"}');
  expect(Number(fds[0]!.value[1])).toBeGreaterThan(0);
});

test("a plugin's instruments reach Prometheus too: shaping-tc's per-class counters from every agent", async () => {
  const { value: sent } = await waitFor(
    'trellis_shaping_sent_bytes_total from three agents',
    async () => {
      const r = await query('sum by (node) (trellis_shaping_sent_bytes_total{job="trellis-agent", direction="egress"})');
      return r.length === 3 && r.every((x) => Number(x.value[1]) > 0) ? r : null;
    },
    60_000,
    1000,
  );
  console.log(`sum by (node) (trellis_shaping_sent_bytes_total{direction="egress"}): ${sent.map((x) => `${x.metric.node}=${x.value[1]}`).join(', ')}`);
  const classes = await query('count by (class) (trellis_shaping_dropped_packets_total{job="trellis-agent"})');
  expect(classes.map((x) => x.metric.class)).toEqual(expect.arrayContaining(['realtime', 'critical', 'default', 'bulk']));
  const types = (await (await fetch(`${promUrl}/api/v1/metadata?metric=trellis_shaping_dropped_packets_total`)).json()) as { data: Record<string, Array<{ type: string }>> };
  expect(types.data.trellis_shaping_dropped_packets_total?.[0]?.type).toBe('counter');
});

test('the shipped rules load, evaluate on the lab series, and raise no tunnel, node, posture, telemetry, shaping, device or map-build alert on a healthy mesh', async () => {
  interface Rule { name: string; health: string; lastError?: string; lastEvaluation: string; type: string }
  const { value: groups } = await waitFor(
    'every rule evaluated once without error',
    async () => {
      const body = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: Array<{ name: string; file: string; rules: Rule[] }> } };
      const g = body.data.groups;
      const rules = g.flatMap((x) => x.rules);
      return g.length === 2 && rules.every((r) => r.health === 'ok' && !r.lastEvaluation.startsWith('0001')) ? g : null;
    },
    100_000, // the shipped groups evaluate once a minute (evaluationIntervalSeconds); this copy every scrape
    1000,
  );
  expect(groups.map((g) => g.name).sort()).toEqual(['trellis-alerts', 'trellis-recording']);
  for (const g of groups) expect(g.file).toMatch(/dashboards\/prometheus\/trellis-rules\.yml$/);
  // A first evaluation can come before the first probes were scraped; the next is a round later.
  const { value: p95 } = await waitFor(
    'recorded p95 RTT for all six paths',
    async () => {
      const r = await query('node_peer:trellis_probe_rtt_seconds:p95');
      return r.length === PAIRS.length ? r : null;
    },
    100_000,
    1000,
  );
  console.log(`node_peer:trellis_probe_rtt_seconds:p95\n${p95.map((s) => `  ${s.metric.node} -> ${s.metric.peer}: ${(Number(s.value[1]) * 1000).toFixed(3)} ms`).join('\n')}`);
  expect(p95.map((s) => `${s.metric.node}->${s.metric.peer}`).sort()).toEqual(PAIRS);
  const loss = await query('node_peer:trellis_probes_lost:ratio');
  console.log(`node_peer:trellis_probes_lost:ratio: ${loss.map((s) => `${s.metric.node}->${s.metric.peer}=${s.value[1]}`).join(', ')}`);
  expect(loss.map((s) => `${s.metric.node}->${s.metric.peer}`).sort()).toEqual(PAIRS);
  // Every agent says which device build it runs; the lab's run the bundled build with offloads on.
  const { value: devices } = await waitFor('a device info series per agent', async () => {
    const r = await query('trellis_wg_device_info');
    return r.length === NODES.length ? r : null;
  }, 60_000, 2000);
  console.log(`trellis_wg_device_info: ${devices.map((s) => `${s.metric.node} ${s.metric.driver} ${s.metric.version} ${s.metric.commit}`).join(', ')}`);
  expect(devices.map((s) => s.metric.node).sort()).toEqual(NODES);
  expect((await query('trellis_wg_device_segmentation_offload == 1')).map((s) => s.metric.node).sort()).toEqual(NODES);
  expect((await query('trellis_wg_device_fallback == 0')).map((s) => s.metric.node).sort()).toEqual(NODES);
  // The Controller & devices dashboard's queries run on this Prometheus; its device table lists every agent.
  for (const q of generate().promQueries) await query(q.expr);
  const table = generate().promQueries.find((q) => q.panel.startsWith('Agent devices'))!;
  expect((await query(table.expr)).map((s) => s.metric.node).sort()).toEqual(NODES);
  // The alerts judge windows of scraped series (increase over 5 m needs two samples): read them
  // once the alert group has evaluated after the telemetry counter has two samples in Prometheus.
  await waitFor('two samples of the telemetry counter', async () => (await query('increase(trellis_telemetry_batches_total[5m])')).length > 0, 60_000, 1000);
  const windowsFrom = Date.now();
  await waitFor('an alert evaluation after that', async () => {
    const body = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: Array<{ name: string; lastEvaluation: string }> } };
    const g = body.data.groups.find((x) => x.name === 'trellis-alerts');
    return g !== undefined && Date.parse(g.lastEvaluation) > windowsFrom;
  }, 60_000, 1000);
  const alerts = await query('ALERTS');
  console.log(`ALERTS: ${alerts.length === 0 ? 'none' : alerts.map((a) => `${a.metric.alertname}{${a.metric.node}->${a.metric.peer ?? ''}} ${a.metric.alertstate}`).join(', ')}`);
  // Tunnels, nodes, posture, telemetry and shaping are healthy here; path latency and loss alerts
  // are left out of this check: this lab shares two cores with other work, and its paths' tail
  // latency says more about the machine's load than about Trellis.
  const structural = ['TrellisTunnelDown', 'TrellisNodesOffline', 'TrellisPostureFailure', 'TrellisTelemetryStalled', 'TrellisShapingDrops', 'TrellisDeviceWithoutOffloads', 'TrellisDeviceFallback', 'TrellisMapBuildSlow'];
  expect(alerts.filter((a) => structural.includes(a.metric.alertname!)).map((a) => a.metric)).toEqual([]);
});

test('lab down stops Prometheus and removes its files', async () => {
  const l = lab!;
  const p = l.state.prometheus!;
  expect(isAlive(p.pid)).toBe(true);
  await l.down();
  lab = null;
  expect(isAlive(p.pid)).toBe(false);
  expect(strayLabPrometheusPids()).toEqual([]);
  expect(existsSync(p.dir)).toBe(false);
  await expect(fetch(`${promUrl}/-/ready`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
});
