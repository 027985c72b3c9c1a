import { promises as fs, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import type { Facts, PeerProbeStats, PostureDecision } from '../api/hooks';
import { ed25519PublicKey } from '../auth/keys';
import { SIG_HEADERS, verifySignature } from '../auth/signing';
import { ErrorCode } from '../errors';
import type { DeltaMapResponse, NetworkMapData } from '../netmap/types';
import { noHooks, type HookRunner } from '../plugins/hook-runner';
import type { ReconfigureResult, WgConfig, WgDevice, WgPeerStats } from '../wg/types';
import { startAgent, type StartAgentOptions } from './agent';
import type { AgentLink } from './agent-link';
import type { ProbeRunner, ProbeRunnerConfig } from './probe-runner';
import type { ProbeTarget } from './probes/probe-scheduler';
import { AGENT_API, type AgentStatus, type EnrollRequest, type EnrollResponse } from '../wire';
import { fakeKey as key, fakePeer as peer } from './testing/peer-fixture';

const log = pino({ level: 'silent' });

/** The smallest controller that speaks enroll, the map stream, endpoints and facts, verifying signatures. */
class TinyController {
  readonly server: http.Server;
  url = '';
  enrolls: EnrollRequest[] = [];
  endpoints: string[][] = [];
  facts: Array<{ facts: Facts; posture?: PostureDecision | null }> = [];
  streamQueries: string[] = [];
  badSignatures = 0;
  private identityKey: string | null = null;
  private wgKey = '';

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, res, Buffer.concat(chunks)));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  map(version: number): NetworkMapData {
    const self = { ...peer('n1', 1), wgKey: this.wgKey, expiresAt: null };
    return {
      version,
      epoch: 'e1',
      self,
      peers: version === 1 ? [peer('b', 2)] : [peer('b', 2), peer('c', 3)],
      packetFilter: null,
      routes: [],
      extensions: {},
      overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' },
    };
  }

  private fail(res: http.ServerResponse, status: number, code: string, message: string) {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code, message } }));
  }

  private verified(req: http.IncomingMessage, body: Buffer): boolean {
    const h = (n: string) => String(req.headers[n] ?? '');
    const ok =
      this.identityKey !== null &&
      h(SIG_HEADERS.node) === 'n1' &&
      verifySignature(ed25519PublicKey(this.identityKey), req.method!, req.url!, h(SIG_HEADERS.timestamp), h(SIG_HEADERS.nonce), body, h(SIG_HEADERS.signature));
    if (!ok) this.badSignatures++;
    return ok;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) {
    const url = new URL(req.url!, 'http://x');
    if (req.method === 'POST' && url.pathname === '/v1/enroll') {
      const er = JSON.parse(body.toString()) as EnrollRequest;
      if (er.authKey !== 'tskey-good') return this.fail(res, 401, ErrorCode.ENROLL_KEY_UNKNOWN, 'auth key is not known to this controller');
      this.enrolls.push(er);
      this.identityKey = er.identityKey;
      this.wgKey = er.wgKey;
      const out: EnrollResponse = { nodeId: 'n1', name: er.name, addresses: { ipv4: '100.64.0.1', ipv6: 'fd7a:7e11:5000::1' }, map: this.map(1) };
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(out));
    }
    if (!this.verified(req, body)) return this.fail(res, 401, ErrorCode.AUTH_BAD_SIGNATURE, 'bad signature');
    if (req.method === 'GET' && url.pathname === '/v1/map/stream') {
      this.streamQueries.push(url.search);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const since = Number(url.searchParams.get('since') ?? -1);
      if (since === 1) {
        const d: DeltaMapResponse = { kind: 'delta', epoch: 'e1', baseVersion: 1, version: 2, peersUpserted: [peer('c', 3)], peersRemoved: [] };
        // Split mid-line on purpose: the client must reassemble.
        const text = `event: map\ndata: ${JSON.stringify(d)}\n\n`;
        res.write(text.slice(0, 17));
        setTimeout(() => res.write(text.slice(17) + 'event: ping\ndata: {}\n\n'), 20);
      } else {
        res.write(`event: map\ndata: ${JSON.stringify({ kind: 'full', map: this.map(2) })}\n\n`);
      }
      return;
    }
    if (req.method === 'POST' && url.pathname === '/v1/node/endpoints') {
      this.endpoints.push((JSON.parse(body.toString()) as { endpoints: string[] }).endpoints);
      res.writeHead(204);
      return res.end();
    }
    if (req.method === 'POST' && url.pathname === '/v1/node/facts') {
      this.facts.push(JSON.parse(body.toString()) as { facts: Facts; posture?: PostureDecision | null });
      res.writeHead(204);
      return res.end();
    }
    return this.fail(res, 404, ErrorCode.NOT_FOUND, 'no route');
  }
}

class FakeDevice implements WgDevice {
  readonly name: string;
  peers: WgConfig['peers'] = [];
  configs: WgConfig[] = [];
  ups = 0;
  downs = 0;
  constructor(name: string) {
    this.name = name;
  }
  async up() {
    this.ups++;
  }
  async down() {
    this.downs++;
    this.peers = [];
  }
  async reconfigure(next: WgConfig): Promise<ReconfigureResult> {
    this.configs.push(next);
    this.peers = next.peers;
    return { summary: 'written', added: next.peers.length, updated: 0, removed: 0, changed: true };
  }
  async stats(): Promise<WgPeerStats[]> {
    return this.peers.map((p, i) => ({ publicKey: p.publicKey, endpoint: p.endpoint, lastHandshake: 1000 + i, rxBytes: 100 * (i + 1), txBytes: 7, allowedIps: p.allowedIps }));
  }
}

function fakeLink() {
  const calls: string[] = [];
  const link: AgentLink = {
    setLinkUp: async (iface, mtu) => void calls.push(`up ${iface} ${mtu}`),
    syncAddresses: async (iface, cidrs) => void calls.push(`addr ${iface} ${cidrs.join(',')}`),
    syncRoutes: async (iface, prefixes) => void calls.push(`route ${iface} ${prefixes.join(',')}`),
    listUnderlayAddresses: async () => ['198.18.0.1', '2001:db8::1'],
  };
  return { link, calls };
}

function fakeProbes() {
  const made: ProbeRunnerConfig[] = [];
  let peers: ProbeTarget[] = [];
  const factory = (cfg: ProbeRunnerConfig): ProbeRunner => {
    made.push(cfg);
    return {
      start: () => undefined,
      stop: () => undefined,
      setPeers: (p) => (peers = p),
      stats: (): PeerProbeStats[] => peers.map((p) => ({ peerId: p.id, peerName: p.name, rttUs: 420, loss: 0, jitterUs: 3, sent: 5, received: 5, early: 0, replied: true })),
    };
  };
  return { factory, made };
}

function localGet(socketPath: string, route: string, method = 'GET'): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: route, method }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as unknown }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function until(cond: () => boolean | Promise<boolean>, ms = 4000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('startAgent', () => {
  let dir: string;
  let ctl: TinyController;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'trellis-ag-'));
    ctl = new TinyController();
    await ctl.listen();
  });
  afterEach(async () => {
    await ctl.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const base = (over: Partial<StartAgentOptions> = {}): StartAgentOptions => ({
    controllerUrl: ctl.url,
    name: 'alpha',
    stateDir: dir,
    iface: 'tr-agtest0',
    listenPort: 51820,
    probeIntervalMs: 1000,
    probePort: 51999,
    log,
    backoff: { initialMs: 20, maxMs: 100 },
    ...over,
  });

  it('enrolls, streams the map into the device, serves status, and restores from cache with the controller gone', async () => {
    const device = new FakeDevice('tr-agtest0');
    const { link, calls } = fakeLink();
    const probes = fakeProbes();
    let refresh: (() => void) | null = null;
    let factsCalls = 0;
    const hooks: HookRunner = {
      ...noHooks,
      runParallel: (async (hook: string) => (hook === 'collectFacts' ? [{ os: 'linux', n: ++factsCalls }, { disk: 'encrypted' }] : [])) as HookRunner['runParallel'],
      runFirst: (async () => ({ compliant: true, reasons: ['ok'] })) as HookRunner['runFirst'],
      has: (h) => h === 'collectFacts' || h === 'evaluatePosture',
    };
    const agent = await startAgent(base({ authKey: 'tskey-good', device, link, probes: probes.factory, hooks }));

    // Enrollment: public keys only, persisted identity with mode 0600.
    expect(ctl.enrolls).toHaveLength(1);
    expect(ctl.enrolls[0]).toMatchObject({ name: 'alpha', endpoints: ['198.18.0.1:51820', '[2001:db8::1]:51820'] });
    const idFile = path.join(dir, 'identity.json');
    expect((await fs.stat(idFile)).mode & 0o777).toBe(0o600);
    const identity = JSON.parse(await fs.readFile(idFile, 'utf8')) as { nodeId: string; wg: { publicKey: string }; identity: { privateKey: string } };
    expect(identity.nodeId).toBe('n1');
    expect(ctl.enrolls[0].wgKey).toBe(identity.wg.publicKey);
    expect(JSON.stringify(ctl.enrolls[0])).not.toContain(identity.identity.privateKey);

    // The streamed delta (signed request, since=1) reaches the device.
    await until(() => device.peers.length === 2);
    expect(device.peers.map((p) => p.publicKey)).toEqual([key('B'), key('C')]);
    expect(ctl.streamQueries[0]).toBe('?since=1&epoch=e1');
    expect(ctl.badSignatures).toBe(0);
    expect(device.ups).toBe(1);
    expect(calls).toContain('up tr-agtest0 1420');
    expect(calls).toContain('addr tr-agtest0 100.64.0.1/32,fd7a:7e11:5000::1/128');
    expect(probes.made[0]).toMatchObject({ bindAddress: '100.64.0.1', port: 51999, nodeId: 'n1' });

    // Endpoints and facts were reported, signed.
    await until(() => ctl.endpoints.length > 0 && ctl.facts.length > 0);
    expect(ctl.endpoints[0]).toEqual(['198.18.0.1:51820', '[2001:db8::1]:51820']);
    expect(ctl.facts[0]).toEqual({ facts: { os: 'linux', n: 1, disk: 'encrypted' }, posture: { compliant: true, reasons: ['ok'] } });

    // The local API shows the peers with device counters and probe stats.
    const sock = path.join(dir, 'agent.sock');
    expect((await fs.stat(sock)).mode & 0o777).toBe(0o600);
    await until(async () => ((await localGet(sock, AGENT_API.status)).body as AgentStatus).peers.length === 2);
    const st = (await localGet(sock, AGENT_API.status)).body as AgentStatus;
    expect(st.node).toMatchObject({ id: 'n1', name: 'alpha', iface: 'tr-agtest0', addresses: { ipv4: '100.64.0.1' }, wgKey: identity.wg.publicKey });
    expect(st.controller).toMatchObject({ url: ctl.url, connected: true });
    expect(st.map).toMatchObject({ version: 2, epoch: 'e1', source: 'controller' });
    expect(typeof st.map.lastApplyMs).toBe('number');
    expect(st.posture).toEqual({ compliant: true, reasons: ['ok'] });
    expect(st.peers.map((p) => p.name)).toEqual(['node-b', 'node-c']);
    expect(st.peers[0]).toMatchObject({ rxBytes: 100, lastHandshake: 1000, probe: { peerId: 'b', rttUs: 420 } });
    expect(JSON.stringify(st)).not.toContain(identity.identity.privateKey);
    expect((await localGet(sock, '/v1/nope')).status).toBe(404);

    await agent.stop();
    await agent.done;
    expect(device.downs).toBe(1);
    await expect(fs.stat(sock)).rejects.toThrow();

    // Controller gone: the mesh comes back from the cache and the session keeps retrying.
    await ctl.close();
    const device2 = new FakeDevice('tr-agtest0');
    const again = await startAgent(base({ device: device2, link: fakeLink().link, probes: fakeProbes().factory }));
    expect(device2.peers.map((p) => p.publicKey)).toEqual([key('B'), key('C')]);
    const st2 = await again.status();
    expect(st2.map).toMatchObject({ version: 2, source: 'cache' });
    expect(st2.controller.connected).toBe(false);
    await new Promise((r) => setTimeout(r, 150));
    expect(device2.peers).toHaveLength(2); // never torn down for an unreachable controller
    expect((await again.status()).controller.lastError).toMatch(/unreachable/);

    // POST /v1/down stops the agent.
    expect((await localGet(sock, AGENT_API.down, 'POST')).body).toEqual({ ok: true });
    await again.done;
    expect(device2.downs).toBe(1);
    ctl = new TinyController();
    await ctl.listen();
  });

  it('fails fast with the controller message when enrollment is refused', async () => {
    const device = new FakeDevice('tr-agtest1');
    const started = Date.now();
    await expect(startAgent(base({ authKey: 'tskey-bad', device, link: fakeLink().link, probes: fakeProbes().factory }))).rejects.toMatchObject({
      code: ErrorCode.ENROLL_KEY_UNKNOWN,
      message: 'auth key is not known to this controller',
      status: 401,
    });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(device.ups).toBe(0);
  });

  it('refuses to start an unenrolled node without an auth key', async () => {
    await expect(startAgent(base({ device: new FakeDevice('tr-agtest2'), link: fakeLink().link }))).rejects.toMatchObject({ code: ErrorCode.USAGE });
  });

  it('carries the status text plugins register into its status, leaving out a source that fails', async () => {
    const pluginFile = path.join(dir, 'status-plugin.js');
    writeFileSync(
      pluginFile,
      `exports.plugin = {
        manifest: { name: 'status-words', version: '1.0.0', apiRange: '^1.0.0', sides: ['agent'] },
        setup(ctx) {
          ctx.agent.registerStatusText(({ posture }) => ({ place: 'end', text: 'words: ' + (posture ? 'decided' : 'no decision') + '\\n' }));
          ctx.agent.registerStatusText(() => { throw new Error('cannot render'); });
          ctx.agent.registerStatusText(() => null);
        },
      };`,
    );
    const configFile = path.join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ agent: { plugins: ['./status-plugin.js'] } }));
    const agent = await startAgent(base({ authKey: 'tskey-good', device: new FakeDevice('tr-agtest3'), link: fakeLink().link, probes: fakeProbes().factory, configFile }));
    try {
      expect((await agent.status()).statusText).toEqual([{ place: 'end', text: 'words: no decision\n' }]);
    } finally {
      await agent.stop();
    }
  });
});
