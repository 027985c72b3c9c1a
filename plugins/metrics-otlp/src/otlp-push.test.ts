import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { OtlpErrorCode } from './errors';
import { parseOtlpUrl } from './otlp-push';

const ROOT = join(__dirname, '..', '..', '..');

/**
 * FakeCollector is a boundary fake: an OTLP/HTTP receiver on loopback that records each POST body,
 * standing in for an OpenTelemetry collector (the exporter and its encoding are the real ones).
 */
class FakeCollector {
  readonly requests: Array<{ path: string; headers: IncomingMessage['headers']; body: string }> = [];
  private server: Server | null = null;
  url = '';

  async start(): Promise<void> {
    const s = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        this.requests.push({ path: req.url ?? '', headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    this.server = s;
    this.url = `http://127.0.0.1:${(s.address() as AddressInfo).port}/v1/metrics`;
  }

  async waitFor(n: number, ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (this.requests.length < n) {
      if (Date.now() > until) throw new Error(`collector got ${this.requests.length} exports, expected ${n} within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

interface OtlpJson {
  resourceMetrics: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> }; scopeMetrics: Array<{ metrics: Array<{ name: string; unit?: string; histogram?: { dataPoints: Array<{ count: string | number; attributes: Array<{ key: string; value: { stringValue?: string } }> }> } }> }> }>;
}

/**
 * Runtime runs the compiled plugin under core's PluginHost in a child Node process
 * (test-support/otlp-child.js): the exporter's dynamic import('http') cannot run inside Jest's VM.
 */
class Runtime {
  readonly lines: Array<Record<string, unknown>> = [];
  private readonly child: ChildProcessWithoutNullStreams;
  private buf = '';

  constructor(config: Record<string, unknown>) {
    this.child = spawn(process.execPath, [join(__dirname, '..', 'test-support', 'otlp-child.js'), JSON.stringify(config)], { cwd: ROOT });
    this.child.stdout.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (line.trim()) this.lines.push(JSON.parse(line) as Record<string, unknown>);
      }
    });
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async line(pred: (l: Record<string, unknown>) => boolean, ms: number): Promise<Record<string, unknown>> {
    const until = Date.now() + ms;
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit) return hit;
      const fatal = this.lines.find((l) => 'fatal' in l);
      if (fatal || Date.now() > until) throw new Error(`runtime did not print the expected line within ${ms} ms: ${JSON.stringify(this.lines)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** stop closes stdin: the child shuts its plugin host down and exits. */
  async stop(): Promise<number | null> {
    if (!this.alive) return this.child.exitCode;
    const exited = new Promise<number | null>((r) => this.child.once('exit', (code) => r(code)));
    this.child.stdin.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(t);
    return code;
  }
}

jest.setTimeout(60_000);

describe('metrics-otlp', () => {
  const collector = new FakeCollector();
  const runtimes: Runtime[] = [];
  const runtime = (config: Record<string, unknown>) => {
    const r = new Runtime(config);
    runtimes.push(r);
    return r;
  };

  beforeAll(async () => {
    // The child runs compiled JS: build this plugin (core's declarations come from core/dist).
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(__dirname, '..', 'tsconfig.json')], { cwd: ROOT, stdio: 'pipe' });
    await collector.start();
  });
  afterAll(async () => {
    for (const r of runtimes) await r.stop();
    await collector.close();
  });

  it('pushes the Trellis instruments (per-peer RTT histogram) at setup and every interval', async () => {
    const rt = runtime({ url: collector.url, intervalMs: 200, headers: { 'x-trellis-test': 'yes' } });
    expect(await rt.line((l) => 'names' in l, 15_000)).toEqual({ names: ['metrics-otlp', 'neighbour'], neighbourRan: true });
    await collector.waitFor(3, 5000); // the setup export and two interval exports
    const req = collector.requests[collector.requests.length - 1]!;
    expect(req.path).toBe('/v1/metrics');
    expect(req.headers['content-type']).toMatch(/application\/json/);
    expect(req.headers['x-trellis-test']).toBe('yes');
    const body = JSON.parse(req.body) as OtlpJson;
    const metrics = body.resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    const rtt = metrics.find((x) => x.name === 'trellis_probe_rtt_seconds');
    expect(rtt?.histogram).toBeDefined();
    expect(rtt?.unit).toBe('s');
    // The resource names the process, so a collector maps it to job="trellis-agent", instance="n1".
    const resource = Object.fromEntries(body.resourceMetrics[0]!.resource.attributes.map((a) => [a.key, a.value.stringValue]));
    expect(resource).toMatchObject({ 'service.name': 'trellis-agent', 'service.instance.id': 'n1' });
    const n2 = rtt!.histogram!.dataPoints.find((d) => d.attributes.some((a) => a.key === 'peer' && a.value.stringValue === 'n2'));
    expect(Number(n2?.count)).toBe(2);
    expect(await rt.stop()).toBe(0);
    const done = await rt.line((l) => 'exported' in l, 1000);
    expect(done.exported).toBeGreaterThanOrEqual(3);
    expect(done.after).toBe(true);
  });

  it('a bad URL fails setup with an error naming it; the neighbour plugin and the runtime keep running', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const dead = `http://127.0.0.1:${deadPort}/v1/metrics`;
    const cases = [
      { url: 'not a url', code: OtlpErrorCode.CONFIG_INVALID, pattern: /"not a url" is not a URL/ },
      { url: 'grpc://127.0.0.1:4317', code: OtlpErrorCode.CONFIG_INVALID, pattern: /must be http/ },
      { url: dead, code: OtlpErrorCode.EXPORT_FAILED, pattern: new RegExp(`OTLP export to ${dead} failed`) },
    ];
    const rts = cases.map((c) => runtime({ url: c.url, timeoutMs: 2000 }));
    for (const [i, c] of cases.entries()) {
      const rt = rts[i]!;
      expect(await rt.line((l) => 'names' in l, 15_000)).toEqual({ names: ['neighbour'], neighbourRan: true });
      const failed = await rt.line((l) => l.msg === 'plugin setup failed; plugin disabled', 1000);
      expect(failed).toMatchObject({ plugin: 'metrics-otlp', code: c.code });
      expect(String(failed.err)).toMatch(c.pattern);
    }
    await new Promise((r) => setTimeout(r, 300));
    for (const rt of rts) {
      expect(rt.alive).toBe(true);
      expect(await rt.stop()).toBe(0);
    }
  });

  it('parseOtlpUrl accepts http and https only', () => {
    expect(parseOtlpUrl('https://otel.example:4318/v1/metrics').port).toBe('4318');
    expect(() => parseOtlpUrl('127.0.0.1:4318')).toThrow(/http/);
  });
});
