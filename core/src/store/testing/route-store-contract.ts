/**
 * The route part of the store contract (store/route-repository.ts): what SQLite and PostgreSQL both
 * do with advertised routes and the decisions on them.
 */
import { errors } from '../../errors';
import { hashSecret } from '../secret-hash';
import type { RouteRecord, Store } from '../store';
import { NOW } from './store-fixtures';
import type { StoreHarness } from './store-harness';

const key32 = (n: number) => Buffer.alloc(32, n).toString('base64');
const subnet = (prefix: string, priority = 100, check: string | null = null) => ({ prefix, kind: 'subnet' as const, priority, check });
const audit = { action: 'node.routes', actor: 'node:x' };

async function enroll(s: Store, n: number): Promise<string> {
  if (n === 1) {
    await s.createAuthKey(
      { id: 'rk', secretHash: hashSecret('s1'), tags: [], user: null, reusable: true, createdAt: NOW, expiresAt: NOW + 3600_000, nodeTtlMs: null },
      { action: 'admin.key.created', actor: 'admin', target: 'rk' },
    );
  }
  const { node } = await s.enrollNode({
    keyId: 'rk', secret: 's1', newNodeId: `n${n}`, name: `gw-${n}`, hostname: `h${n}`, wgKey: key32(n), identityKey: key32(100 + n), endpoints: [], now: NOW, actor: 'test',
  });
  return node.id;
}

export function defineRouteStoreContract(h: StoreHarness): void {
  describe(`Route store contract (${h.backend})`, () => {
  it('stores a new advertisement as pending, with an audit entry', async () => {
    const s = await h.open();
    const id = await enroll(s, 1);
    const { routes, changed } = await s.advertiseRoutes(id, [subnet('10.20.0.0/24', 150, '10.20.0.10')], NOW, audit);
    expect(changed).toBe(true);
    expect(routes).toEqual<RouteRecord[]>([
      { nodeId: id, prefix: '10.20.0.0/24', kind: 'subnet', priority: 150, check: '10.20.0.10', advertised: true, status: 'pending', decidedBy: null, decidedAt: null, policyVersion: null, advertisedAt: NOW, updatedAt: NOW },
    ]);
    const entries = await s.queryAudit({ types: ['node.routes'], limit: 10 });
    expect(entries).toHaveLength(1);
  });

  it('writes nothing, not even an audit entry, when the same advertisement comes again', async () => {
    const s = await h.open();
    const id = await enroll(s, 1);
    await s.advertiseRoutes(id, [subnet('10.20.0.0/24')], NOW, audit);
    const again = await s.advertiseRoutes(id, [subnet('10.20.0.0/24')], NOW + 5, audit);
    expect(again.changed).toBe(false);
    expect(again.routes[0]!.updatedAt).toBe(NOW);
    expect(await s.queryAudit({ types: ['node.routes'], limit: 10 })).toHaveLength(1);
  });

  it('keeps the decision of a withdrawn route, and of one that comes back', async () => {
    const s = await h.open();
    const id = await enroll(s, 1);
    await s.advertiseRoutes(id, [subnet('10.20.0.0/24'), subnet('10.30.0.0/16')], NOW, audit);
    await s.decideRoute(id, '10.20.0.0/24', { status: 'approved', by: 'admin', policyVersion: null, at: NOW + 1 }, { action: 'route.approved', actor: 'admin' });
    const withdrawn = await s.advertiseRoutes(id, [subnet('10.30.0.0/16')], NOW + 2, audit);
    expect(withdrawn.routes.map((r) => [r.prefix, r.advertised, r.status])).toEqual([
      ['10.20.0.0/24', false, 'approved'],
      ['10.30.0.0/16', true, 'pending'],
    ]);
    const back = await s.advertiseRoutes(id, [subnet('10.20.0.0/24', 50), subnet('10.30.0.0/16')], NOW + 3, audit);
    expect(back.routes[0]).toMatchObject({ prefix: '10.20.0.0/24', advertised: true, status: 'approved', priority: 50, decidedBy: 'admin', decidedAt: NOW + 1 });
  });

  it('lets a guard refuse a decision inside the transaction, leaving the route and the audit log as they were', async () => {
    const s = await h.open();
    const a = await enroll(s, 1);
    const b = await enroll(s, 2);
    await s.advertiseRoutes(a, [subnet('10.20.0.0/16')], NOW, audit);
    await s.advertiseRoutes(b, [subnet('10.20.5.0/24')], NOW, audit);
    await s.decideRoute(a, '10.20.0.0/16', { status: 'approved', by: 'admin', policyVersion: null, at: NOW }, { action: 'route.approved', actor: 'admin' });
    const head = await s.auditHead();
    await expect(
      s.decideRoute(b, '10.20.5.0/24', { status: 'approved', by: 'admin', policyVersion: null, at: NOW }, { action: 'route.approved', actor: 'admin' }, (all) => {
        const other = all.find((r) => r.nodeId === a && r.status === 'approved');
        if (other) throw errors.routeConflict('10.20.5.0/24', other.prefix, 'gw-1');
      }),
    ).rejects.toThrow(/overlaps the approved route 10\.20\.0\.0\/16 of gw-1/);
    expect((await s.listRoutes()).find((r) => r.nodeId === b)!.status).toBe('pending');
    expect(await s.auditHead()).toEqual(head);
  });

  it('refuses an unknown route with NOT_FOUND and lists every route in node, prefix order', async () => {
    const s = await h.open();
    const a = await enroll(s, 1);
    await expect(s.decideRoute(a, '10.9.0.0/16', { status: 'approved', by: 'admin', policyVersion: null, at: NOW }, null)).rejects.toMatchObject({ code: 'TRELLIS_ERR_NOT_FOUND' });
    await s.advertiseRoutes(a, [subnet('10.9.0.0/16'), { prefix: '0.0.0.0/0', kind: 'exit', priority: 100, check: null }], NOW, audit);
    expect((await s.listRoutes()).map((r) => `${r.prefix} ${r.kind}`)).toEqual(['0.0.0.0/0 exit', '10.9.0.0/16 subnet']);
  });

  it('records who approved a route and with which policy version, and forgets it when set back to pending', async () => {
    const s = await h.open();
    const a = await enroll(s, 1);
    await s.advertiseRoutes(a, [subnet('10.9.0.0/16')], NOW, audit);
    const approved = await s.decideRoute(a, '10.9.0.0/16', { status: 'approved', by: 'policy', policyVersion: 'abc', at: NOW + 9 }, null);
    expect(approved).toMatchObject({ status: 'approved', decidedBy: 'policy', policyVersion: 'abc', decidedAt: NOW + 9 });
    const pending = await s.decideRoute(a, '10.9.0.0/16', { status: 'pending', by: null, policyVersion: null, at: NOW + 10 }, null);
    expect(pending).toMatchObject({ status: 'pending', decidedBy: null, policyVersion: null, decidedAt: null });
  });
  });
}
