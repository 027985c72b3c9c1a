import type { ControllerRecord, NodeStreamRecord, PresenceRepository } from '../presence-repository';
import type { PgDatabase } from './pg-database';

interface ControllerRow {
  id: string;
  url: string;
  epoch: string;
  started_at: number;
  heartbeat_at: number;
}

const toController = (r: ControllerRow): ControllerRecord => ({ id: r.id, url: r.url, epoch: r.epoch, startedAt: r.started_at, heartbeatAt: r.heartbeat_at });

/**
 * PgPresenceRepository: the controllers sharing the database and the node streams each holds.
 * Stream changes and removed controllers are announced, so every controller's maps agree on who
 * is online.
 */
export class PgPresenceRepository implements PresenceRepository {
  constructor(private readonly db: PgDatabase) {}

  async heartbeatController(c: Omit<ControllerRecord, 'heartbeatAt'>, at: number): Promise<void> {
    await this.db.query.run(
      `INSERT INTO controllers (id, url, epoch, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET url = excluded.url, epoch = excluded.epoch, heartbeat_at = excluded.heartbeat_at`,
      [c.id, c.url, c.epoch, c.startedAt, at],
    );
  }

  async listControllers(): Promise<ControllerRecord[]> {
    return (await this.db.query.rows<ControllerRow>('SELECT * FROM controllers ORDER BY started_at, id COLLATE "C"')).map(toController);
  }

  async removeController(id: string): Promise<string[]> {
    return this.db.transaction(async (tx) => {
      const nodes = (await tx.rows<{ node_id: string }>('DELETE FROM node_streams WHERE controller_id = $1 RETURNING node_id', [id])).map((r) => r.node_id).sort();
      const gone = (await tx.run('DELETE FROM controllers WHERE id = $1', [id])) > 0;
      if (gone) tx.notify({ kind: 'controller-gone', controllerId: id });
      return nodes;
    });
  }

  async setNodeStream(nodeId: string, controllerId: string, online: boolean, at: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      const changed = online
        ? await tx.run('INSERT INTO node_streams (node_id, controller_id, since) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [nodeId, controllerId, at])
        : await tx.run('DELETE FROM node_streams WHERE node_id = $1 AND controller_id = $2', [nodeId, controllerId]);
      if (changed > 0) tx.notify({ kind: 'presence', nodeId, controllerId, online, at });
    });
  }

  async listNodeStreams(): Promise<NodeStreamRecord[]> {
    return (
      await this.db.query.rows<{ node_id: string; controller_id: string; since: number }>('SELECT node_id, controller_id, since FROM node_streams ORDER BY node_id COLLATE "C", controller_id COLLATE "C"')
    ).map((r) => ({ nodeId: r.node_id, controllerId: r.controller_id, since: r.since }));
  }
}
