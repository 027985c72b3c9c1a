import pino from 'pino';
import { ControllerRequestError } from './controller-client';
import { ConnectionEventReporter, relayEndpointsOf } from './connection-events';
import type { ConnectionEventsRequest } from '../wire';
import type { WgPeerStats } from '../wg/types';

const stat = (publicKey: string, lastHandshake: number | null): WgPeerStats => ({ publicKey, lastHandshake, rxBytes: 0, txBytes: 0 }) as WgPeerStats;

describe('ConnectionEventReporter', () => {
  it('reports tunnel up and down transitions per peer, keeps them while the controller is away, and drops the oldest past the bound', async () => {
    let now = 1_000_000;
    let stats: WgPeerStats[] = [];
    const posted: ConnectionEventsRequest[] = [];
    let failing: Error | null = null;
    const r = new ConnectionEventReporter({
      wgStats: async () => stats,
      peerIdsByKey: () => new Map([['kA', 'nA'], ['kB', 'nB']]),
      post: async (body) => {
        if (failing) throw failing;
        posted.push(body);
      },
      log: pino({ level: 'silent' }),
      clock: () => now,
      maxQueued: 3,
    });
    stats = [stat('kA', null), stat('kB', now - 1000), stat('kX', now)];
    await r.tick();
    expect(posted.flatMap((p) => p.events)).toEqual([{ at: now, kind: 'tunnel.up', peer: 'nB', details: { handshakeAgeS: 1 } }]);
    now += 5000;
    stats = [stat('kA', now - 2000), stat('kB', now - 181_000)];
    await r.tick();
    expect(posted.flatMap((p) => p.events).slice(1).map((e) => [e.kind, e.peer, e.details?.handshakeAgeS])).toEqual([
      ['tunnel.up', 'nA', 2],
      ['tunnel.down', 'nB', 181],
    ]);
    // Unchanged: nothing new.
    await r.tick();
    expect(posted.flatMap((p) => p.events)).toHaveLength(3);

    failing = new Error('connect ECONNREFUSED');
    for (let i = 0; i < 3; i++) {
      now += 200_000;
      stats = [stat('kA', i % 2 === 0 ? now - 190_000 : now)];
      await r.tick();
    }
    stats = [stat('kA', now - 190_000), stat('kB', now)];
    await r.tick();
    expect(r.stats()).toEqual({ queued: 3, dropped: 1 });
    failing = null;
    await r.tick();
    expect(r.stats().queued).toBe(0);
    expect(posted.at(-1)!.events.map((e) => [e.kind, e.peer])).toEqual([['tunnel.up', 'nA'], ['tunnel.down', 'nA'], ['tunnel.up', 'nB']]);

    failing = new ControllerRequestError('TRELLIS_ERR_BAD_REQUEST', 'bad', 400);
    now += 1000;
    stats = [stat('kA', now), stat('kB', now)];
    await r.tick();
    expect(r.stats().queued).toBe(0);
  });

  it('reports a path switch when WireGuard moves a peer to another endpoint, and a relay switch when it moves between direct and a relay', async () => {
    let now = 2_000_000;
    let stats: WgPeerStats[] = [];
    const posted: ConnectionEventsRequest[] = [];
    const relays = relayEndpointsOf([
      { name: 'r1', endpoints: ['198.18.0.21:51820', '[fd00::21]:51820'], relay: { port: 3490 } },
      { name: 'plain', endpoints: ['198.18.0.22:51820'], relay: null },
    ]);
    expect([...relays]).toEqual([
      ['198.18.0.21:3490', 'r1'],
      ['[fd00::21]:3490', 'r1'],
    ]);
    const r = new ConnectionEventReporter({
      wgStats: async () => stats,
      peerIdsByKey: () => new Map([['kA', 'nA']]),
      relayEndpoints: () => relays,
      post: async (body) => void posted.push(body),
      log: pino({ level: 'silent' }),
      clock: () => now,
    });
    const at = (endpoint: string | null): WgPeerStats => ({ ...stat('kA', now), endpoint });
    stats = [at('198.18.0.11:51820')];
    await r.tick();
    // The first sighting is the starting point: tunnel.up only.
    expect(posted.flatMap((p) => p.events).map((e) => e.kind)).toEqual(['tunnel.up']);
    now += 5000;
    stats = [at('192.0.2.7:40111')];
    await r.tick();
    now += 5000;
    stats = [at('198.18.0.21:3490')];
    await r.tick();
    now += 5000;
    stats = [at(null)];
    await r.tick();
    now += 5000;
    stats = [at('[fd00::21]:3490')];
    await r.tick();
    now += 5000;
    stats = [at('192.0.2.7:40111')];
    await r.tick();
    expect(posted.flatMap((p) => p.events).slice(1).map((e) => [e.kind, e.peer, e.details])).toEqual([
      ['path.switched', 'nA', { from: 'direct', to: 'direct', fromEndpoint: '198.18.0.11:51820', toEndpoint: '192.0.2.7:40111' }],
      ['relay.switched', 'nA', { from: 'direct', to: 'relay:r1', fromEndpoint: '192.0.2.7:40111', toEndpoint: '198.18.0.21:3490' }],
      ['path.switched', 'nA', { from: 'relay:r1', to: 'relay:r1', fromEndpoint: '198.18.0.21:3490', toEndpoint: '[fd00::21]:3490' }],
      ['relay.switched', 'nA', { from: 'relay:r1', to: 'direct', fromEndpoint: '[fd00::21]:3490', toEndpoint: '192.0.2.7:40111' }],
    ]);
  });

  it('reports entering and leaving quarantine from the applied maps, not the starting state', async () => {
    const posted: ConnectionEventsRequest[] = [];
    const r = new ConnectionEventReporter({
      wgStats: async () => [],
      peerIdsByKey: () => new Map(),
      post: async (body) => void posted.push(body),
      log: pino({ level: 'silent' }),
      clock: () => 5_000,
    });
    r.noteQuarantine(false, 'controller');
    r.noteQuarantine(false, 'controller');
    r.noteQuarantine(true, 'controller');
    r.noteQuarantine(true, 'cache');
    r.noteQuarantine(false, 'controller');
    await r.tick();
    expect(posted.flatMap((p) => p.events)).toEqual([
      { at: 5_000, kind: 'quarantine.entered', details: { source: 'controller' } },
      { at: 5_000, kind: 'quarantine.left', details: { source: 'controller' } },
    ]);
    // A node that starts quarantined (e.g. from its cached map) says so at once.
    const late: ConnectionEventsRequest[] = [];
    const r2 = new ConnectionEventReporter({ wgStats: async () => [], peerIdsByKey: () => new Map(), post: async (b) => void late.push(b), log: pino({ level: 'silent' }), clock: () => 6_000 });
    r2.noteQuarantine(true, 'cache');
    await r2.tick();
    expect(late.flatMap((p) => p.events).map((e) => e.kind)).toEqual(['quarantine.entered']);
  });
});

describe('ConnectionEventReporter.record', () => {
  it('sends an event the agent decided itself at once, with its clock', async () => {
    const posted: ConnectionEventsRequest[] = [];
    const r = new ConnectionEventReporter({
      wgStats: async () => [],
      peerIdsByKey: () => new Map(),
      post: async (body) => void posted.push(body),
      log: pino({ level: 'silent' }),
      clock: () => 42,
    });
    r.record({ kind: 'exit.switched', peer: 'n4', details: { from: 'n3', to: 'n4', reason: 'exit node n3 is offline' } });
    await r.tick();
    expect(posted.flatMap((p) => p.events)).toEqual([{ at: 42, kind: 'exit.switched', peer: 'n4', details: { from: 'n3', to: 'n4', reason: 'exit node n3 is offline' } }]);
  });
});
