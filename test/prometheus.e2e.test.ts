/**
 * metrics-prometheus on a lab: an agent's /metrics (scraped inside its namespace, 127.0.0.1:9464)
 * and the controller's (root namespace, its own port) pass `promtool check metrics` and carry the
 * per-peer RTT histogram and the controller's node gauges.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab } from '../core/src/lab/lab';
import { waitFor } from './support/wait';

jest.setTimeout(180_000);

let dir: string;
let lab: Lab | null = null;
let controllerPort: number;

const promtool = (text: string) => execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-prom-e2e-'));
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  controllerPort = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      controller: { plugins: [{ name: 'metrics-prometheus', config: { listen: `127.0.0.1:${controllerPort}` } }] },
      agent: { plugins: ['metrics-prometheus'] },
    }),
  );
  lab = await Lab.up({ nodes: 3, configFile: config });
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
      const res = await fetch(`http://127.0.0.1:${controllerPort}/metrics`);
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
