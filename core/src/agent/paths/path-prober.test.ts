import pino from 'pino';
import { generateWgKeyPair, type KeyPair } from '../../auth/keys';
import { DiscoType, discoPairKey, encodeObservedAddress, openDisco, parseDiscoHeader, sealDisco } from '../../disco';
import type { NetworkMapData, PeerNode } from '../../netmap/types';
import { PathProber, type DiscoChannel, type EndpointReassertEvent, type PathDevice } from './path-prober';
import type { PathSwitchEvent } from '../../wire';
import { DEFAULT_PATH_CHOICE, type PathChoiceConfig } from '../../paths';

const log = pino({ level: 'silent' });

type Listener = (d: { kind: 'stun' | 'disco'; from: string; payload: Buffer }) => void;

/**
 * A fake underlay: nodes at addresses, a relay that answers its own pings and forwards disco
 * between the nodes it knows (as trellis-wg relay does), and a switch to cut the direct path.
 */
class FakeNet {
  readonly listeners = new Map<string, Listener>();
  cut = false;
  /** Addresses whose datagrams never arrive (a node that moved away from it). */
  readonly gone = new Set<string>();
  readonly relayNodes = new Map<string, string>();
  constructor(readonly relayAddr: string, readonly relayKeys: KeyPair) {}

  channel(addr: () => string): DiscoChannel {
    return {
      on: (_e, l) => this.listeners.set(addr(), l),
      off: () => undefined,
      send: async (to, payload) => {
        const from = addr();
        queueMicrotask(() => this.deliver(from, to, Buffer.from(payload)));
      },
    };
  }

  private deliver(from: string, to: string, payload: Buffer): void {
    if (this.gone.has(from)) return;
    if (to === this.relayAddr) return this.relay(from, payload);
    if (this.cut && from !== this.relayAddr) return;
    this.listeners.get(to)?.({ kind: 'disco', from, payload });
  }

  private relay(from: string, payload: Buffer): void {
    const h = parseDiscoHeader(payload);
    if (!h.ok) return;
    if (h.header.receiver === this.relayKeys.publicKey) {
      const opened = openDisco(payload, discoPairKey(this.relayKeys.privateKey, h.header.sender));
      if (!opened.ok || opened.message.type !== DiscoType.PING) return;
      this.relayNodes.set(h.header.sender, from);
      const [ip, port] = from.split(':');
      const pong = sealDisco(
        { type: DiscoType.PONG, sender: this.relayKeys.publicKey, receiver: h.header.sender, txId: opened.message.txId, timestampUs: opened.message.timestampUs, body: encodeObservedAddress(ip!, Number(port)) },
        discoPairKey(this.relayKeys.privateKey, h.header.sender),
      );
      queueMicrotask(() => this.listeners.get(from)?.({ kind: 'disco', from: this.relayAddr, payload: pong }));
      return;
    }
    const dest = this.relayNodes.get(h.header.receiver);
    if (dest) queueMicrotask(() => this.deliver(this.relayAddr, dest, payload));
  }
}

/**
 * A fake WireGuard device as the drift check sees it: `held` is each peer's endpoint on the
 * device, `written` what the agent's apply loop last wrote. Like the Reconfigurer, a write only
 * sends the endpoints that differ from what was written; roam() is WireGuard moving an endpoint
 * on its own (an authenticated datagram from another address), behind the agent's back.
 */
class FakeWgDevice implements PathDevice {
  readonly held = new Map<string, string | null>();
  private readonly written = new Map<string, string | null>();
  readonly reasserted: Array<Map<string, string | null>> = [];
  constructor(private readonly chosen: () => ReadonlyMap<string, string>) {}

  write(): void {
    for (const [k, ep] of this.chosen()) {
      if (this.written.get(k) === ep) continue;
      this.written.set(k, ep);
      this.held.set(k, ep);
    }
  }

  roam(key: string, to: string): void {
    this.held.set(key, to);
  }

  async endpoints(): Promise<ReadonlyMap<string, string | null>> {
    return new Map(this.held);
  }

  async reassert(found: ReadonlyMap<string, string | null>): Promise<void> {
    this.reasserted.push(new Map(found));
    for (const [k, ep] of found) this.written.set(k, ep);
    this.write();
  }
}

function peerNode(id: string, name: string, key: string, endpoints: string[], relay: number | null = null): PeerNode {
  return { id, name, wgKey: key, addresses: { ipv4: '100.64.0.1', ipv6: 'fd7a::1' }, endpoints, allowedIps: [], tags: [], user: null, online: true, lastSeen: null, relay: relay === null ? null : { port: relay } };
}

function mapFor(self: PeerNode, peers: PeerNode[]): NetworkMapData {
  return { version: 1, epoch: 'e', self: { ...self, expiresAt: null }, peers, packetFilter: null, routes: [], extensions: {}, overlay: { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a::/48' } };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

function setup(o: { devices?: boolean; choice?: PathChoiceConfig } = {}) {
  const ka = generateWgKeyPair();
  const kb = generateWgKeyPair();
  const kr = generateWgKeyPair();
  const net = new FakeNet('198.18.0.3:51821', kr);
  let now = 1_000_000;
  const addrs = { a: '198.18.0.1:51820', b: '198.18.0.2:51820' };
  const A = peerNode('n1', 'a', ka.publicKey, [addrs.a]);
  const B = peerNode('n2', 'b', kb.publicKey, [addrs.b]);
  const R = peerNode('n3', 'r', kr.publicKey, ['198.18.0.3:51820'], 51821);
  const applied = { a: [] as string[][], b: [] as string[][] };
  const switches = { a: [] as PathSwitchEvent[], b: [] as PathSwitchEvent[] };
  const reasserts = { a: [] as EndpointReassertEvent[], b: [] as EndpointReassertEvent[] };
  const probers: { a?: PathProber; b?: PathProber } = {};
  const devices = o.devices ? { a: new FakeWgDevice(() => probers.a!.endpointOverrides()), b: new FakeWgDevice(() => probers.b!.endpointOverrides()) } : null;
  const prober = (who: 'a' | 'b', self: PeerNode, keys: KeyPair) =>
    new PathProber({
      channel: net.channel(() => addrs[who]),
      self: () => ({ id: self.id, wgKey: keys.publicKey, privateKey: keys.privateKey }),
      apply: async (re) => {
        applied[who].push(re);
        devices?.[who].write();
      },
      onSwitch: (e) => switches[who].push(e),
      ...(devices ? { device: devices[who], onReassert: (e: EndpointReassertEvent) => void reasserts[who].push(e) } : {}),
      ...(o.choice ? { choice: o.choice } : {}),
      log,
      now: () => now,
    });
  const pa = (probers.a = prober('a', A, ka));
  const pb = (probers.b = prober('b', B, kb));
  pa.setMap(mapFor(A, [B, R]));
  pb.setMap(mapFor(B, [A, R]));
  const advance = async (ms: number, step = 100) => {
    for (let t = 0; t < ms; t += step) {
      now += step;
      pa.tick();
      pb.tick();
      await settle();
    }
  };
  return { net, pa, pb, A, B, R, ka, kb, kr, addrs, applied, switches, devices, reasserts, advance, clock: () => now };
}

describe('PathProber', () => {
  it('punches through on both sides at once, goes direct, and the lower id decides while the other adopts', async () => {
    const t = setup();
    await t.advance(3000);
    const a = t.pa.status().peers.find((p) => p.peer === 'b')!;
    const b = t.pb.status().peers.find((p) => p.peer === 'a')!;
    expect(a.role).toBe('decides');
    expect(b.role).toBe('follows');
    expect(a.active).toBe('direct:198.18.0.2:51820');
    expect(b.active).toBe('direct:198.18.0.1:51820');
    expect(a.label).toBe('direct');
    expect(b.label).toBe('direct');
    expect(t.pa.endpointOverrides().get(t.kb.publicKey)).toBe('198.18.0.2:51820');
    expect(t.pb.endpointOverrides().get(t.ka.publicKey)).toBe('198.18.0.1:51820');
    // Every candidate was measured, the relay too.
    for (const c of a.candidates) {
      expect(c.live).toBe(true);
      expect(c.rttMs).not.toBeNull();
    }
    expect(t.switches.a.map((s) => s.cause)).toEqual(['initial']);
    expect(t.switches.b.map((s) => s.cause)).toEqual(['adopted']);
    // The relay saw each node's address and told it (reflexive per path).
    expect(t.pa.reflexive()).toEqual(['198.18.0.1:51820']);
  });

  it('measures a candidate from its first pong (no second round needed), also when it answers again after an outage', async () => {
    const t = setup();
    await t.advance(100);
    const a = t.pa.status().peers.find((p) => p.peer === 'b')!;
    // One ping went out and was answered: the direct candidate has figures at once.
    expect(a.candidates.find((c) => c.kind === 'direct')).toMatchObject({ rttMs: 0, loss: 0 });
    await t.advance(3000);
    t.net.cut = true;
    await t.advance(3000);
    const direct = () => t.pa.status().peers[0]!.candidates.find((c) => c.kind === 'direct')!;
    expect(direct().lastReplyAgoMs).toBeGreaterThanOrEqual(2900);
    t.net.cut = false;
    // The first pong after the outage starts a fresh window and already carries an RTT.
    for (let i = 0; i < 40 && direct().lastReplyAgoMs !== 0; i++) await t.advance(100);
    expect(direct()).toMatchObject({ lastReplyAgoMs: 0, rttMs: 0, loss: 0 });
  });

  it('fails over to the relay within ~1.3 s of a cut, restarting the session through it, and the peer follows', async () => {
    const t = setup();
    await t.advance(3000);
    t.net.cut = true;
    const cutAt = t.clock();
    let switchedAt: number | null = null;
    for (let i = 0; i < 30 && switchedAt === null; i++) {
      await t.advance(100);
      if (t.pa.status().peers[0]!.active === 'relay:n3') switchedAt = t.clock();
    }
    expect(switchedAt).not.toBeNull();
    expect(switchedAt! - cutAt).toBeLessThanOrEqual(1400);
    const dead = t.switches.a.at(-1)!;
    expect(dead).toMatchObject({ cause: 'dead', to: 'relay:n3', label: 'r' });
    // The switch onto the relay restarts the WireGuard session with b (a new handshake through the relay).
    expect(t.applied.a.at(-1)).toEqual([t.kb.publicKey]);
    expect(t.pa.endpointOverrides().get(t.kb.publicKey)).toBe('198.18.0.3:51821');
    await t.advance(500);
    expect(t.pb.status().peers[0]!.active).toBe('relay:n3');
    expect(t.pb.endpointOverrides().get(t.ka.publicKey)).toBe('198.18.0.3:51821');
    expect(t.pa.relayedS('n2')).toBeGreaterThan(0);
    // Back to direct once the cut is gone: within 15 s.
    t.net.cut = false;
    const healedAt = t.clock();
    let backAt: number | null = null;
    for (let i = 0; i < 200 && backAt === null; i++) {
      await t.advance(100);
      if (t.pa.status().peers[0]!.active === 'direct:198.18.0.2:51820') backAt = t.clock();
    }
    expect(backAt).not.toBeNull();
    expect(backAt! - healedAt).toBeLessThanOrEqual(15_000);
    expect(t.switches.a.at(-1)!.cause).toBe('recovered');
    await t.advance(500);
    expect(t.pb.status().peers[0]!.active).toBe('direct:198.18.0.1:51820');
    expect(t.pa.relayedS('n2')).toBe(0);
  });

  it('leaves a blackholed peer with two addresses in one switch, to the relay, not first to its other address', async () => {
    const t = setup();
    const second = '198.19.0.2:51820';
    t.net.listeners.set(second, t.net.listeners.get(t.addrs.b)!);
    t.pa.setMap(mapFor(t.A, [{ ...t.B, endpoints: [t.addrs.b, second] }, t.R]));
    await t.advance(5000);
    expect(t.pa.status().peers[0]!.candidates.map((c) => [c.id, c.live])).toEqual([
      ['direct:198.18.0.2:51820', true],
      ['relay:n3', true],
      [`direct:${second}`, true],
    ]);
    const before = t.switches.a.length;
    t.net.cut = true; // both of b's addresses, both ways
    await t.advance(6000);
    expect(t.switches.a.slice(before).map((s) => [s.cause, s.to])).toEqual([['dead', 'relay:n3']]);
  });

  it('learns a roamed peer from its pings and moves to its new address without the controller', async () => {
    const t = setup();
    await t.advance(3000);
    // b moves: its old address is gone, the map still says the old one.
    t.net.gone.add(t.addrs.b);
    const newAddr = '198.18.0.22:51820';
    t.addrs.b = newAddr;
    const l = t.net.listeners.get('198.18.0.2:51820')!;
    t.net.listeners.delete('198.18.0.2:51820');
    t.net.listeners.set(newAddr, l);
    t.pb.kick();
    let movedAt: number | null = null;
    const start = t.clock();
    for (let i = 0; i < 40 && movedAt === null; i++) {
      await t.advance(100);
      if (t.pa.status().peers[0]!.active === `direct:${newAddr}`) movedAt = t.clock();
    }
    // Straight to the learned address, or through the relay first and then to it.
    const a = t.pa.status().peers[0]!;
    expect(a.candidates.find((c) => c.endpoint === newAddr)?.learned).toBe(true);
    expect(movedAt === null ? a.active : `direct:${newAddr}`).toMatch(/^(relay:n3|direct:198\.18\.0\.22:51820)$/);
    expect(t.clock() - start).toBeLessThanOrEqual(4000);
  });

  it('drops disco it cannot authenticate, counting why', async () => {
    const t = setup();
    const stranger = generateWgKeyPair();
    const forged = sealDisco(
      { type: DiscoType.PING, sender: t.kb.publicKey, receiver: t.ka.publicKey, txId: Buffer.alloc(12), timestampUs: BigInt(t.clock()) * 1000n, body: Buffer.alloc(0) },
      discoPairKey(stranger.privateKey, t.ka.publicKey),
    );
    t.pa.receive('198.18.0.9:1', forged);
    t.pa.receive('198.18.0.9:1', Buffer.from('TRLD'));
    const unknown = sealDisco(
      { type: DiscoType.PING, sender: stranger.publicKey, receiver: t.ka.publicKey, txId: Buffer.alloc(12), timestampUs: BigInt(t.clock()) * 1000n, body: Buffer.alloc(0) },
      discoPairKey(stranger.privateKey, t.ka.publicKey),
    );
    t.pa.receive('198.18.0.9:1', unknown);
    const old = sealDisco(
      { type: DiscoType.PING, sender: t.kb.publicKey, receiver: t.ka.publicKey, txId: Buffer.alloc(12), timestampUs: BigInt(t.clock() - 600_000) * 1000n, body: Buffer.alloc(0) },
      discoPairKey(t.kb.privateKey, t.ka.publicKey),
    );
    t.pa.receive('198.18.0.9:1', old);
    expect(t.pa.drops).toMatchObject({ mac: 1, malformed: 1, unknownSender: 1, stale: 1 });
    // None of them became a candidate.
    expect(t.pa.status().peers[0]!.candidates.some((c) => c.learned)).toBe(false);
  });

  describe('endpoint drift (WireGuard roamed the peer onto another path)', () => {
    const RELAY = '198.18.0.3:51821';

    it('the deciding node writes the chosen direct endpoint back within ~2 s and counts it', async () => {
      const t = setup({ devices: true });
      await t.advance(3000);
      expect(t.pa.status().peers[0]!.active).toBe('direct:198.18.0.2:51820');
      expect(t.devices!.a.held.get(t.kb.publicKey)).toBe('198.18.0.2:51820');
      // A late datagram through the relay: WireGuard on a moves b's endpoint to the relay.
      t.devices!.a.roam(t.kb.publicKey, RELAY);
      const roamedAt = t.clock();
      let backAt: number | null = null;
      for (let i = 0; i < 50 && backAt === null; i++) {
        await t.advance(100);
        if (t.devices!.a.held.get(t.kb.publicKey) === '198.18.0.2:51820') backAt = t.clock();
      }
      expect(backAt).not.toBeNull();
      expect(backAt! - roamedAt).toBeLessThanOrEqual(2_500);
      expect(t.devices!.a.reasserted).toEqual([new Map([[t.kb.publicKey, RELAY]])]);
      expect(t.reasserts.a).toEqual([expect.objectContaining({ peerName: 'b', label: 'direct', chosen: '198.18.0.2:51820', found: RELAY })]);
      await t.advance(1500);
      const st = t.pa.status().peers[0]!;
      expect(st).toMatchObject({ deviceEndpoint: '198.18.0.2:51820', endpointReasserts: 1, active: 'direct:198.18.0.2:51820', switches: 1 });
      // Nothing else was switched or restarted: the path choice never moved.
      expect(t.switches.a.map((s) => s.cause)).toEqual(['initial']);
    });

    it('the following node writes it back once the deciding peer announces the path again', async () => {
      const t = setup({ devices: true });
      await t.advance(3000);
      expect(t.devices!.b.held.get(t.ka.publicKey)).toBe('198.18.0.1:51820');
      t.devices!.b.roam(t.ka.publicKey, RELAY);
      const roamedAt = t.clock();
      let backAt: number | null = null;
      for (let i = 0; i < 60 && backAt === null; i++) {
        await t.advance(100);
        if (t.devices!.b.held.get(t.ka.publicKey) === '198.18.0.1:51820') backAt = t.clock();
      }
      expect(backAt).not.toBeNull();
      // One drift check to see it, one to confirm, and an announcement (every 2 s) in between.
      expect(backAt! - roamedAt).toBeLessThanOrEqual(4_500);
      expect(t.reasserts.b).toEqual([expect.objectContaining({ peerName: 'a', label: 'direct', chosen: '198.18.0.1:51820', found: RELAY })]);
      expect(t.switches.b.map((s) => s.cause)).toEqual(['adopted']);
    });

    it('does not hold a dead path against roaming: a peer that moved is followed, not written back', async () => {
      // A slow death (3 s) leaves the old path chosen for several drift checks after the move.
      const t = setup({ devices: true, choice: { ...DEFAULT_PATH_CHOICE, activeDeadAfterMs: 3000 } });
      await t.advance(3000);
      // b moves; its authenticated traffic from the new address moves a's endpoint there (roaming).
      t.net.gone.add(t.addrs.b);
      const newAddr = '198.18.0.22:51820';
      t.addrs.b = newAddr;
      const l = t.net.listeners.get('198.18.0.2:51820')!;
      t.net.listeners.delete('198.18.0.2:51820');
      t.net.listeners.set(newAddr, l);
      t.devices!.a.roam(t.kb.publicKey, newAddr);
      t.pb.kick();
      await t.advance(6000);
      // The old address never answered again, so it was never written back over the roamed one.
      expect(t.devices!.a.reasserted.filter((m) => [...m.values()].includes(newAddr))).toEqual([]);
      expect(t.reasserts.a.filter((e) => e.chosen === '198.18.0.2:51820')).toEqual([]);
      expect(t.devices!.a.held.get(t.kb.publicKey)).toBe(t.pa.endpointOverrides().get(t.kb.publicKey));
    });

    it('a device that matches the chosen paths is never written to by the check', async () => {
      const t = setup({ devices: true });
      await t.advance(8000);
      expect(t.devices!.a.reasserted).toEqual([]);
      expect(t.devices!.b.reasserted).toEqual([]);
      expect(t.pa.status().peers[0]!.endpointReasserts).toBe(0);
    });
  });
});
