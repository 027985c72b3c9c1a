import { createLogger } from '../log/logger';
import { noHooks } from '../plugins/hook-runner';
import type { NodeRecord, RouteRecord, Store } from '../store/store';
import type { RoutesRequest } from '../wire';
import { RouteTable } from './route-table';

/** A store holding only routes (the repository's SQLite behaviour is tested beside it). */
function routeStore(): Pick<Store, 'listRoutes' | 'advertiseRoutes' | 'decideRoute' | 'listNodes'> & { rows: RouteRecord[] } {
  const rows: RouteRecord[] = [];
  return {
    rows,
    listRoutes: async () => rows.map((r) => ({ ...r })),
    listNodes: async () => [],
    advertiseRoutes: async (nodeId, routes, at) => {
      let changed = false;
      for (const r of routes) {
        const old = rows.find((x) => x.nodeId === nodeId && x.prefix === r.prefix);
        if (!old) {
          rows.push({ nodeId, prefix: r.prefix, kind: r.kind, priority: r.priority, check: r.check, advertised: true, status: 'pending', decidedBy: null, decidedAt: null, policyVersion: null, advertisedAt: at, updatedAt: at });
          changed = true;
        } else if (old.priority !== r.priority || old.check !== r.check || !old.advertised) {
          Object.assign(old, { priority: r.priority, check: r.check, advertised: true });
          changed = true;
        }
      }
      return { routes: rows.filter((x) => x.nodeId === nodeId), changed };
    },
    decideRoute: async (nodeId, prefix, d, _audit, guard) => {
      const row = rows.find((x) => x.nodeId === nodeId && x.prefix === prefix)!;
      guard?.(rows);
      Object.assign(row, { status: d.status, decidedBy: d.by, decidedAt: d.at });
      return { ...row };
    },
  };
}

const node = (id: string): NodeRecord => ({ id, name: id }) as NodeRecord;
const OVERLAY = { ipv4Cidr: '100.64.0.0/10', ipv6Prefix: 'fd7a:7e11:5000::/48' };
const ad = (priority: number, ok?: boolean): RoutesRequest => ({
  routes: [{ prefix: '10.20.0.0/24', check: '10.20.0.10' }],
  priority,
  exit: false,
  health: ok === undefined ? {} : { '10.20.0.0/24': ok },
});

describe('RouteTable', () => {
  let now = 1_000_000;
  const online = new Set<string>();
  const changes: Array<[string, boolean]> = [];
  const audits: Array<Record<string, unknown>> = [];
  let table: RouteTable;
  const live = () => true;
  const primary = () => table.plan(live).find((p) => p.prefix === '10.20.0.0/24')?.gateway ?? null;

  beforeEach(async () => {
    now = 1_000_000;
    online.clear();
    changes.length = 0;
    audits.length = 0;
    table = new RouteTable({
      store: routeStore() as unknown as Store,
      hooks: noHooks,
      log: createLogger('test', 'silent'),
      clock: () => now,
      isOnline: (id) => online.has(id),
      nodeInfo: () => null,
      changed: (reason, full) => void changes.push([reason, full]),
      audit: (e) => void audits.push(e as Record<string, unknown>),
      holdDownMs: 60_000,
    });
    await table.load();
    online.add('gw1').add('gw2');
    await table.advertise(node('gw1'), ad(200, true), OVERLAY);
    await table.advertise(node('gw2'), ad(100, true), OVERLAY);
  });
  afterEach(() => table.close());

  it('installs nothing before approval, then the higher priority gateway is primary', async () => {
    expect(table.plan(live)).toEqual([]);
    expect(table.subnetsOf('gw1')).toEqual([]);
    await table.decide(node('gw1'), '10.20.0.0/24', 'approve', 'admin');
    await table.decide(node('gw2'), '10.20.0.0/24', 'approve', 'admin');
    expect(primary()).toBe('gw1');
    expect(table.subnetsOf('gw2')).toEqual(['10.20.0.0/24']);
    expect(changes.filter(([, full]) => full).length).toBeGreaterThanOrEqual(2);
  });

  it('fails over when the primary goes offline or its check fails, and does not flap back within the hold-down', async () => {
    await table.decide(node('gw1'), '10.20.0.0/24', 'approve', 'admin');
    await table.decide(node('gw2'), '10.20.0.0/24', 'approve', 'admin');
    expect(primary()).toBe('gw1');
    // LAN side of gw1 dies: its check fails, gw2 takes over at once.
    await table.advertise(node('gw1'), ad(200, false), OVERLAY);
    expect(primary()).toBe('gw2');
    expect(audits[0]).toMatchObject({ action: 'route.primary.moved', details: { from: 'gw1', to: 'gw2', reason: 'check failing' } });
    // gw1 heals: it stays standby within the hold-down…
    now += 10_000;
    await table.advertise(node('gw1'), ad(200, true), OVERLAY);
    expect(primary()).toBe('gw2');
    // …and takes the prefix back once the hold-down is over.
    now += 60_000;
    expect(primary()).toBe('gw1');
    // A primary that goes offline is replaced at once, whatever the hold-down.
    online.delete('gw1');
    expect(primary()).toBe('gw2');
    expect(table.view(new Map()).find((r) => r.nodeId === 'gw1')).toMatchObject({ online: false, healthy: false, primary: false });
    expect(table.metrics((id) => id)).toMatchObject({ prefixes: 1, unhealthyPrefixes: 0, failovers: 3 });
    online.delete('gw2');
    expect(table.metrics((id) => id).unhealthyPrefixes).toBe(1);
  });

  it('refuses an approval that overlaps another gateway\'s approved prefix, and bad advertisements', async () => {
    await table.decide(node('gw1'), '10.20.0.0/24', 'approve', 'admin');
    await table.advertise(node('gw3'), { routes: [{ prefix: '10.20.0.0/16', check: null }], priority: 100, exit: false, health: {} }, OVERLAY);
    await expect(table.decide(node('gw3'), '10.20.0.0/16', 'approve', 'admin')).rejects.toMatchObject({ code: 'TRELLIS_ERR_ROUTE_CONFLICT' });
    await expect(table.advertise(node('gw3'), { routes: [{ prefix: '100.64.1.0/24', check: null }], priority: 100, exit: false, health: {} }, OVERLAY)).rejects.toMatchObject({
      code: 'TRELLIS_ERR_ROUTE_INVALID',
      message: expect.stringContaining('overlaps the overlay 100.64.0.0/10'),
    });
    await expect(table.decide(node('gw3'), '10.99.0.0/24', 'approve', 'admin')).rejects.toMatchObject({ code: 'TRELLIS_ERR_NOT_FOUND' });
  });
});
