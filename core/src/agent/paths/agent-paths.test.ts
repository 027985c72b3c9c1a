import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { generateWgKeyPair, type KeyPair } from '../../auth/keys';
import { DiscoType, parseDiscoHeader } from '../../disco';
import type { NetworkMapData, PeerNode } from '../../netmap/types';
import { answerBindingRequest } from '../../stun';
import { FakeControlDevice, type SendSeen } from '../../wg/testing/fake-control-device';
import type { PathSwitchEvent } from '../../wire';
import { AgentPaths, type AgentPathsOptions } from './agent-paths';

const log = pino({ level: 'silent' });
const STUN = { ip: '203.0.113.1', port: 3478 };
const STUN_TEXT = `${STUN.ip}:${STUN.port}`;
/** A second STUN server address, so an agent can compare two mappings (NAT classification). */
const STUN2 = { ip: '203.0.113.2', port: 3478 };
const STUN2_TEXT = `${STUN2.ip}:${STUN2.port}`;

function peerNode(id: string, name: string, key: string, endpoints: string[]): PeerNode {
  return { id, name, wgKey: key, addresses: { ipv4: '100.64.0.1', ipv6: 'fd7a::1' }, endpoints, allowedIps: [], tags: [], user: null, online: true, lastSeen: null, relay: null };
}

function mapFor(self: PeerNode, peers: PeerNode[]): NetworkMapData {
  return { version: 1, epoch: 'e', self: { ...self, expiresAt: null }, peers, packetFilter: null, routes: [], extensions: {}, overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a::/48' } };
}

const endpointOf = (text: string) => {
  const i = text.lastIndexOf(':');
  return { ip: text.slice(0, i), port: Number(text.slice(i + 1)) };
};

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A fake underlay between two fake trellis-wg devices: what one agent sends through its device's
 * control socket arrives at the other device's agent as a datagram from the sender's address
 * (behind a NAT, as the STUN server sees it), and a STUN server answers binding requests.
 */
class FakeUnderlay {
  /** Public (NAT-mapped) address of each node's WireGuard socket, as the STUN server sees it. */
  readonly mapped = new Map<string, string>();
  /** Behind a hard NAT: the mapping each STUN server sees, per node address (overrides `mapped`). */
  readonly mappedPerServer = new Map<string, Record<string, string>>();
  readonly devices = new Map<string, FakeControlDevice>();
  cut = false;

  attach(addr: () => string, dev: FakeControlDevice): void {
    dev.onSend = (s: SendSeen) => this.carry(addr(), s);
  }

  private carry(from: string, s: SendSeen): void {
    const sender = this.devices.get(from);
    if (s.to === STUN_TEXT || s.to === STUN2_TEXT) {
      const seenAs = endpointOf(this.mappedPerServer.get(from)?.[s.to] ?? this.mapped.get(from) ?? from);
      const a = answerBindingRequest(s.payload, { family: 'IPv4', address: seenAs.ip, port: seenAs.port }, 'fake-stun');
      if (a.reply) setImmediate(() => sender?.deliver('stun', s.to === STUN_TEXT ? STUN : STUN2, Buffer.from(a.reply!)));
      return;
    }
    if (this.cut) return;
    const dest = this.devices.get(s.to);
    if (dest) setImmediate(() => dest.deliver('disco', endpointOf(from), s.payload));
  }
}

describe('AgentPaths', () => {
  let dir: string;
  const stops: Array<() => Promise<void>> = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'trellis-agentpaths-'));
  });
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function paths(o: Partial<AgentPathsOptions> & Pick<AgentPathsOptions, 'controlSocket'>, keys: KeyPair = generateWgKeyPair(), id = 'n1') {
    const changed = { candidates: 0 };
    const switches: PathSwitchEvent[] = [];
    const applied: string[][] = [];
    const p = new AgentPaths({
      self: () => ({ id, wgKey: keys.publicKey, privateKey: keys.privateKey }),
      apply: async (re) => void applied.push(re),
      onSwitch: (e) => switches.push(e),
      underlay: async () => ['198.18.0.1'],
      onCandidatesChanged: () => void changed.candidates++,
      stunServers: [],
      log,
      watchMs: 30,
      reconnectMs: 100,
      ...o,
    });
    stops.push(() => p.stop());
    return { p, changed, switches, applied };
  }

  it('without a control socket (upstream wireguard-go) path choice is unavailable, says why, and the map endpoints stand', async () => {
    const { p } = paths({ controlSocket: async () => ({ socket: null, reason: 'the device has no control socket (it is not trellis-wg)' }) });
    await p.start();
    const k = generateWgKeyPair();
    p.onMap(mapFor(peerNode('n1', 'a', generateWgKeyPair().publicKey, []), [peerNode('n2', 'b', k.publicKey, ['198.18.0.2:51820'])]));
    expect(await p.status()).toEqual({ available: false, reason: 'the device has no control socket (it is not trellis-wg)', peers: [], relays: [], reflexive: [], drops: null });
    expect(p.endpointOverrides().size).toBe(0);
    expect(p.pathLabel('n2')).toBe('direct');
    expect(p.relayedS('n2')).toBeNull();
  });

  it('on a fake device: watches the remote spokes the map offers, adds one on demand staged, opens it after the handshake, drops it when the socket goes', async () => {
    const dev = new FakeControlDevice(join(dir, 'od.ctl'));
    await dev.listen();
    stops.push(() => dev.close());
    const k3 = generateWgKeyPair().publicKey;
    let handshakeAt: number | null = null;
    let changes = 0;
    const { p } = paths({
      controlSocket: async () => ({ socket: dev.path, reason: null }),
      wgStats: async () => [{ publicKey: k3, endpoint: '198.18.0.10:3479', lastHandshake: handshakeAt, rxBytes: 0, txBytes: 0, allowedIps: [] }],
      onDemandChanged: () => void changes++,
      onDemandTickMs: 20,
      onDemandStagedTickMs: 20,
    });
    await p.start();
    const hub = { ...peerNode('h', 'hub', generateWgKeyPair().publicKey, ['198.18.0.10:51820']), hub: true, relay: { port: 3479 } };
    const map = mapFor(peerNode('n1', 'a', generateWgKeyPair().publicKey, []), [hub]);
    map.onDemand = [{ id: 'n3', name: 'c', wgKey: k3, allowedIps: ['100.64.0.3/32', 'fd7a::3/128'], via: ['h'] }];
    p.onMap(map);
    await until('the watch', () => dev.watches.length === 1);
    expect(dev.watches[0]).toEqual({ addresses: ['100.64.0.3', 'fd7a::3'] });
    expect(p.onDemandPeers()).toEqual([]);

    dev.push(dev.demand('outbound', '100.64.0.3'));
    await until('the staged peer', () => changes === 1);
    expect(p.onDemandPeers()).toEqual([{ publicKey: k3, endpoint: '198.18.0.10:3479', allowedIps: [], persistentKeepalive: 25 }]);
    await until('a handshake request', () => dev.handshakes.includes(k3));
    handshakeAt = Date.now();
    await until('the open peer', () => changes === 2);
    expect(p.onDemandPeers()[0]!.allowedIps).toEqual(['100.64.0.3/32', 'fd7a::3/128']);
    expect(p.onDemandStatus()).toMatchObject({ candidates: 1, open: 1, added: 1 });

    dev.dropClients();
    await until('the peer dropped with the socket', () => changes === 3);
    expect(p.onDemandPeers()).toEqual([]);
  });

  it('a control socket nobody listens on leaves path choice unavailable with the reason', async () => {
    const { p } = paths({ controlSocket: async () => ({ socket: join(dir, 'nobody.ctl'), reason: null }) });
    await p.start();
    const st = await p.status();
    expect(st.available).toBe(false);
    expect(st.reason).toMatch(/^cannot use the device's control socket: .*nobody\.ctl/);
  });

  it('on fake devices: STUN on the WireGuard socket finds the reflexive address, the pair goes direct (lower id decides), underlay changes and a lost socket are handled', async () => {
    const net = new FakeUnderlay();
    const ka = generateWgKeyPair();
    const kb = generateWgKeyPair();
    const addr = { a: '198.18.0.1:51820', b: '198.18.0.2:51820' };
    const dev = { a: new FakeControlDevice(join(dir, 'a.ctl')), b: new FakeControlDevice(join(dir, 'b.ctl')) };
    for (const d of Object.values(dev)) {
      await d.listen();
      stops.push(() => d.close());
    }
    net.devices.set(addr.a, dev.a);
    net.devices.set(addr.b, dev.b);
    net.attach(() => addr.a, dev.a);
    net.attach(() => addr.b, dev.b);
    net.mapped.set(addr.a, '192.0.2.10:40001');
    net.mapped.set(addr.b, '192.0.2.20:40002');
    let underlayA = ['198.18.0.1'];
    const A = peerNode('n1', 'a', ka.publicKey, [addr.a]);
    const B = peerNode('n2', 'b', kb.publicKey, [addr.b]);
    // a probes only every 10 s unless kicked, so a ping right after an underlay change is the roaming kick's.
    const slow = { timing: { activeProbeMs: 10_000, liveProbeMs: 10_000, deadProbeMs: 10_000, announceMs: 10_000 } };
    const a = paths({ controlSocket: async () => ({ socket: dev.a.path, reason: null }), stunServers: [STUN_TEXT], underlay: async () => underlayA, prober: slow }, ka, 'n1');
    const b = paths({ controlSocket: async () => ({ socket: dev.b.path, reason: null }), stunServers: [STUN_TEXT], underlay: async () => ['198.18.0.2'] }, kb, 'n2');
    // A map that came before the device: taken when the socket connects.
    a.p.onMap(mapFor(A, [B]));
    await a.p.start();
    await b.p.start();
    b.p.onMap(mapFor(B, [A]));

    // STUN ran through the device (its send went out on the WireGuard socket) and its answer is a candidate.
    await until('the reflexive address from STUN', () => a.p.reflexive().includes('192.0.2.10:40001'));
    expect(dev.a.sends.some((s) => s.to === STUN_TEXT)).toBe(true);
    expect(a.changed.candidates).toBeGreaterThanOrEqual(1);

    await until('a direct path both ways', async () => {
      const [sa, sb] = [await a.p.status(), await b.p.status()];
      return sa.peers[0]?.active === `direct:${addr.b}` && sb.peers[0]?.active === `direct:${addr.a}`;
    });
    const sa = await a.p.status();
    expect(sa).toMatchObject({ available: true, reason: null });
    expect(sa.peers[0]).toMatchObject({ peer: 'b', role: 'decides', label: 'direct', endpoint: addr.b });
    expect((await b.p.status()).peers[0]).toMatchObject({ peer: 'a', role: 'follows', label: 'direct', endpoint: addr.a });
    expect(a.p.endpointOverrides().get(kb.publicKey)).toBe(addr.b);
    expect(b.p.endpointOverrides().get(ka.publicKey)).toBe(addr.a);
    expect(a.switches.map((s) => s.cause)).toEqual(['initial']);
    expect(b.switches.map((s) => s.cause)).toEqual(['adopted']);
    expect(a.p.relayedS('n2')).toBe(0);

    // Roaming: a new underlay address reports candidates again, re-runs STUN and pings the peer at once.
    await new Promise((r) => setTimeout(r, 300));
    const before = { candidates: a.changed.candidates, stun: dev.a.sends.filter((s) => s.to === STUN_TEXT).length, pings: dev.a.sends.length };
    net.mapped.set(addr.a, '192.0.2.11:40009');
    underlayA = ['198.18.0.1', '198.18.1.1'];
    await until('candidates reported again', () => a.changed.candidates > before.candidates);
    await until('STUN again, with the new mapping', () => a.p.reflexive().includes('192.0.2.11:40009'));
    expect(dev.a.sends.filter((s) => s.to === STUN_TEXT).length).toBeGreaterThan(before.stun);
    const isPing = (s: SendSeen) => { const h = parseDiscoHeader(s.payload); return h.ok && h.header.type === DiscoType.PING; };
    await until('a ping to the peer right after the change', () => dev.a.sends.slice(before.pings).some((s) => s.to === addr.b && isPing(s)), 1_000);

    // The device's control socket goes: path choice pauses and says why, then it is back.
    dev.a.dropClients();
    await until('the pause', async () => (await a.p.status()).available === false);
    expect((await a.p.status()).reason).toMatch(/control socket closed/);
    expect(a.p.endpointOverrides().size).toBe(0);
    await until('the reconnect', async () => (await a.p.status()).available === true);
    await until('the pair direct again', async () => (await a.p.status()).peers[0]?.active === `direct:${addr.b}`);
  });

  it('the first applied map (it sets the listen port) runs STUN again: the start-up run saw the start-up port', async () => {
    const net = new FakeUnderlay();
    const k = generateWgKeyPair();
    const addr = '198.18.0.1:51820';
    const dev = new FakeControlDevice(join(dir, 'a.ctl'));
    await dev.listen();
    stops.push(() => dev.close());
    net.devices.set(addr, dev);
    net.attach(() => addr, dev);
    // Before the first map the device listens on a random port, and its NAT mapping is that port's.
    net.mapped.set(addr, '192.0.2.10:45737');
    const a = paths({ controlSocket: async () => ({ socket: dev.path, reason: null }), stunServers: [STUN_TEXT] }, k, 'n1');
    await a.p.start();
    await until('the start-up reflexive address', () => a.p.reflexive().includes('192.0.2.10:45737'));
    const reported = a.changed.candidates;
    net.mapped.set(addr, '192.0.2.10:51820');
    a.p.onMap(mapFor(peerNode('n1', 'a', k.publicKey, [addr]), []));
    await until('the listen port\'s reflexive address, and only that', () => a.p.reflexive().join(',') === '192.0.2.10:51820', 2_000);
    expect(a.changed.candidates).toBeGreaterThan(reported);
    // Later maps do not each cost a STUN run.
    const runs = dev.sends.filter((s) => s.to === STUN_TEXT).length;
    a.p.onMap(mapFor(peerNode('n1', 'a', k.publicKey, [addr]), []));
    await new Promise((r) => setTimeout(r, 200));
    expect(dev.sends.filter((s) => s.to === STUN_TEXT).length).toBe(runs);
  });

  describe('NAT classification from two STUN server addresses', () => {
    async function node(mapped: string | Record<string, string>, stunServers = [STUN_TEXT, STUN2_TEXT], underlay = ['10.0.0.2']) {
      const net = new FakeUnderlay();
      const addr = '10.0.0.2:51820';
      const dev = new FakeControlDevice(join(dir, 'n.ctl'));
      await dev.listen();
      stops.push(() => dev.close());
      net.devices.set(addr, dev);
      net.attach(() => addr, dev);
      if (typeof mapped === 'string') net.mapped.set(addr, mapped);
      else net.mappedPerServer.set(addr, mapped);
      const n = paths({ controlSocket: async () => ({ socket: dev.path, reason: null }), stunServers, underlay: async () => underlay, listenPort: () => 51820 }, generateWgKeyPair(), 'n1');
      await n.p.start();
      return { ...n, net, addr };
    }

    it('behind a hard NAT (a mapping per destination) no reflexive address is advertised, and status says why', async () => {
      const n = await node({ [STUN_TEXT]: '192.0.2.30:40001', [STUN2_TEXT]: '192.0.2.30:40777' });
      await until('the NAT classified', async () => (await n.p.status()).nat !== undefined);
      const st = await n.p.status();
      expect(st.nat).toMatchObject({
        type: 'hard',
        advertisesReflexive: false,
        mappings: { [STUN_TEXT]: '192.0.2.30:40001', [STUN2_TEXT]: '192.0.2.30:40777' },
      });
      expect(st.nat!.reason).toMatch(/depends on the destination/);
      // What the servers saw is shown, but none of it is a candidate: each reaches only that server.
      expect(st.reflexive).toEqual(['192.0.2.30:40001', '192.0.2.30:40777']);
      expect(n.p.reflexiveCandidates()).toEqual([]);
    });

    it('behind an easy NAT the one reflexive address is advertised', async () => {
      const n = await node('192.0.2.31:51820');
      await until('the NAT classified', async () => (await n.p.status()).nat !== undefined);
      expect((await n.p.status()).nat).toMatchObject({ type: 'easy', advertisesReflexive: true });
      expect(n.p.reflexiveCandidates()).toEqual([{ kind: 'reflexive', address: '192.0.2.31:51820', source: `stun ${STUN_TEXT}` }]);
    });

    it('with no NAT (the servers see the socket itself) the node is open', async () => {
      const n = await node('10.0.0.2:51820');
      await until('the NAT classified', async () => (await n.p.status()).nat !== undefined);
      expect((await n.p.status()).nat).toMatchObject({ type: 'open', advertisesReflexive: true });
    });

    it('one STUN server cannot classify: the reflexive address is advertised as before', async () => {
      const n = await node({ [STUN_TEXT]: '192.0.2.30:40001', [STUN2_TEXT]: '192.0.2.30:40777' }, [STUN_TEXT]);
      await until('the reflexive address', () => n.p.reflexive().length === 1);
      expect((await n.p.status()).nat).toBeUndefined();
      expect(n.p.reflexiveCandidates()).toEqual([{ kind: 'reflexive', address: '192.0.2.30:40001', source: `stun ${STUN_TEXT}` }]);
    });

    it('a NAT that turns hard (a new network) withdraws the reflexive candidates and reports again', async () => {
      const n = await node('192.0.2.31:51820');
      await until('easy', async () => (await n.p.status()).nat?.type === 'easy');
      const reported = n.changed.candidates;
      n.net.mappedPerServer.set(n.addr, { [STUN_TEXT]: '192.0.2.40:40001', [STUN2_TEXT]: '192.0.2.40:40002' });
      n.p.onMap(mapFor(peerNode('n1', 'a', generateWgKeyPair().publicKey, [n.addr]), []));
      await until('hard', async () => (await n.p.status()).nat?.type === 'hard');
      expect(n.p.reflexiveCandidates()).toEqual([]);
      expect(n.changed.candidates).toBeGreaterThan(reported);
    });
  });
});
