import pino from 'pino';
import { ControllerRequestError } from './controller-client';
import { ConnectionEventReporter } from './connection-events';
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
