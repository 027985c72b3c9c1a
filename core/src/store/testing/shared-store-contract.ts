/**
 * What several controllers on one store rely on: the controllers and the node streams each holds,
 * and, where the store is shared (PostgreSQL), changes made through one store instance delivered to
 * another and never back to the writer.
 */
import type { DeliveredChange, Store } from '../store';
import type { StoreHarness } from './store-harness';
import { addKey, enrollInput, NOW } from './store-fixtures';

async function until<T>(what: string, get: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function defineSharedStoreContract(h: StoreHarness): void {
  describe(`shared store (${h.backend})`, () => {
    it('records controllers with heartbeats and the node streams they hold; removing one drops its streams', async () => {
      const s = await h.open();
      await s.heartbeatController({ id: 'c1', url: 'https://a:8443', epoch: 'e1', startedAt: NOW }, NOW);
      await s.heartbeatController({ id: 'c2', url: 'https://b:8443', epoch: 'e2', startedAt: NOW + 1 }, NOW + 1);
      await s.heartbeatController({ id: 'c1', url: 'https://a:8443', epoch: 'e1', startedAt: NOW }, NOW + 5);
      expect(await s.listControllers()).toEqual([
        { id: 'c1', url: 'https://a:8443', epoch: 'e1', startedAt: NOW, heartbeatAt: NOW + 5 },
        { id: 'c2', url: 'https://b:8443', epoch: 'e2', startedAt: NOW + 1, heartbeatAt: NOW + 1 },
      ]);
      await s.setNodeStream('n1', 'c1', true, NOW + 10);
      await s.setNodeStream('n1', 'c1', true, NOW + 11);
      await s.setNodeStream('n1', 'c2', true, NOW + 12);
      await s.setNodeStream('n2', 'c1', true, NOW + 13);
      await s.setNodeStream('n3', 'c2', true, NOW + 14);
      await s.setNodeStream('n3', 'c2', false, NOW + 15);
      expect(await s.listNodeStreams()).toEqual([
        { nodeId: 'n1', controllerId: 'c1', since: NOW + 10 },
        { nodeId: 'n1', controllerId: 'c2', since: NOW + 12 },
        { nodeId: 'n2', controllerId: 'c1', since: NOW + 13 },
      ]);
      expect(await s.removeController('c1')).toEqual(['n1', 'n2']);
      expect(await s.removeController('c1')).toEqual([]);
      expect(await s.listNodeStreams()).toEqual([{ nodeId: 'n1', controllerId: 'c2', since: NOW + 12 }]);
      expect((await s.listControllers()).map((c) => c.id)).toEqual(['c2']);
    });

    it('keeps one linear audit chain when two store instances write at once', async () => {
      const a = await h.open({ auditCheckpointEvery: 10 });
      const b = await h.open({ auditCheckpointEvery: 10 });
      const write = (s: Store, tag: string) => Promise.all(Array.from({ length: 40 }, (_, i) => s.appendAudit({ action: 'test.event', actor: tag, details: { i } })));
      await addKey(a, 'k1', 's1');
      await Promise.all([
        write(a, 'a'),
        write(b, 'b'),
        ...Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).enrollNode(enrollInput(i + 1))),
      ]);
      const report = await a.verifyAudit(null);
      expect(report).toMatchObject({ ok: true, entries: 91, firstBad: null });
      expect(new Set((await a.listNodes()).map((n) => n.ipv4)).size).toBe(10);
    });

    it('grants a rotation lease to one of two peers at a time, whichever store instance (controller) asks', async () => {
      const a = await h.open();
      const b = await h.open();
      expect(await a.takeRotationLease('n1', ['n2', 'n3'], NOW, NOW + 10_000)).toEqual({ granted: true, until: NOW + 10_000 });
      // n2's controller is another one: it sees n1's lease.
      expect(await b.takeRotationLease('n2', ['n1'], NOW + 5, NOW + 10_005)).toEqual({ granted: false, busyUntil: NOW + 10_000 });
      // A node that is no peer of n1 rotates meanwhile; n1 asking again renews its own lease.
      expect(await b.takeRotationLease('n4', ['n5'], NOW + 6, NOW + 10_006)).toEqual({ granted: true, until: NOW + 10_006 });
      expect(await a.takeRotationLease('n1', ['n2'], NOW + 7, NOW + 10_007)).toEqual({ granted: true, until: NOW + 10_007 });
      // After its registration n1 holds a short settle time, then the lease lapses.
      await a.holdRotationLease('n1', NOW + 1_000);
      expect(await b.takeRotationLease('n2', ['n1'], NOW + 999, NOW + 11_000)).toEqual({ granted: false, busyUntil: NOW + 1_000 });
      expect(await b.takeRotationLease('n2', ['n1'], NOW + 1_000, NOW + 11_000)).toEqual({ granted: true, until: NOW + 11_000 });
      // Two peers asking at once through two instances: exactly one gets it.
      const race = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? a.takeRotationLease('p1', ['p2'], NOW, NOW + 10_000) : b.takeRotationLease('p2', ['p1'], NOW, NOW + 10_000))),
      );
      const winners = new Set(race.map((r, i) => (r.granted ? (i % 2 ? 'p1' : 'p2') : null)).filter((w) => w !== null));
      expect(winners.size).toBe(1);
    });

    if (h.backend === 'sqlite') {
      it('has no change feed: one process uses the file', async () => {
        expect((await h.open()).changes).toBeNull();
      });
      return;
    }

    it("delivers one store instance's changes to another, after commit, and never back to the writer", async () => {
      const a = await h.open();
      const b = await h.open();
      const gotA: DeliveredChange[] = [];
      const gotB: DeliveredChange[] = [];
      const resyncs: string[] = [];
      const stopA = await a.changes!.subscribe({ change: (c) => gotA.push(c), resync: (r) => resyncs.push(r) });
      const stopB = await b.changes!.subscribe({ change: (c) => gotB.push(c), resync: (r) => resyncs.push(r) });
      try {
        expect(a.changes!.origin).not.toBe(b.changes!.origin);
        await addKey(a, 'k1', 's1');
        const { node } = await a.enrollNode(enrollInput(1));
        await a.setEndpoints(node.id, ['203.0.113.7:51820']);
        await a.addGroup('eng', NOW, { action: 'group.added', actor: 'admin' });
        await a.activatePolicy({ version: 'p'.repeat(64), file: 'policies/p.tgz', size: 3, source: 'x', createdAt: NOW }, { at: NOW, actor: 'admin', kind: 'push' }, { action: 'policy.activated', actor: 'admin' }, Buffer.from('abc'));
        await a.heartbeatController({ id: 'ctl-a', url: 'x', epoch: 'e', startedAt: NOW }, NOW);
        await a.setNodeStream(node.id, 'ctl-a', true, NOW);
        await a.removeController('ctl-a');
        // A refused change announces nothing.
        await expect(a.enrollNode(enrollInput(2, { name: 'node-1' }))).rejects.toMatchObject({ code: 'TRELLIS_ERR_NAME_TAKEN' });
        await until('the controller-gone change', () => gotB.find((c) => c.kind === 'controller-gone'));
        const kinds = gotB.map((c) => (c.kind === 'node' ? `node:${c.nodeId}:${c.reason}` : c.kind === 'presence' ? `presence:${c.nodeId}:${c.online}` : c.kind));
        expect(kinds).toEqual([`node:${node.id}:enroll node-1`, `node:${node.id}:endpoints`, 'mesh', 'policy', `presence:${node.id}:true`, 'controller-gone']);
        expect(gotB.every((c) => c.origin === a.changes!.origin && c.sentAt >= NOW)).toBe(true);
        expect(gotA).toEqual([]);
        expect(resyncs).toEqual([]);
        // And the other way round.
        await b.revokeNode(node.id, NOW, { action: 'node.revoked', actor: 'admin', target: node.id });
        await until('the revoke', () => gotA.find((c) => c.kind === 'node'));
        expect(gotA).toMatchObject([{ kind: 'node', nodeId: node.id, reason: 'revoke node-1', origin: b.changes!.origin }]);
      } finally {
        await stopA();
        await stopB();
      }
    });

  });
}
