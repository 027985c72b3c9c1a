import type Database from 'better-sqlite3';
import type { ControllerRecord, NodeStreamRecord, PresenceRepository } from '../presence-repository';

interface ControllerRow {
  id: string;
  url: string;
  epoch: string;
  started_at: number;
  heartbeat_at: number;
}

const toController = (r: ControllerRow): ControllerRecord => ({ id: r.id, url: r.url, epoch: r.epoch, startedAt: r.started_at, heartbeatAt: r.heartbeat_at });

/** SqlitePresenceRepository keeps the controllers and the node streams they hold (one controller per SQLite file in practice). */
export class SqlitePresenceRepository implements PresenceRepository {
  constructor(private readonly db: Database.Database) {}

  async heartbeatController(c: Omit<ControllerRecord, 'heartbeatAt'>, at: number): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO controllers (id, url, epoch, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET url = excluded.url, epoch = excluded.epoch, heartbeat_at = excluded.heartbeat_at`,
      )
      .run(c.id, c.url, c.epoch, c.startedAt, at);
  }

  async listControllers(): Promise<ControllerRecord[]> {
    return (this.db.prepare('SELECT * FROM controllers ORDER BY started_at, id').all() as ControllerRow[]).map(toController);
  }

  async removeController(id: string): Promise<string[]> {
    return this.db.transaction(() => {
      const nodes = (this.db.prepare('SELECT node_id FROM node_streams WHERE controller_id = ? ORDER BY node_id').all(id) as Array<{ node_id: string }>).map((r) => r.node_id);
      this.db.prepare('DELETE FROM node_streams WHERE controller_id = ?').run(id);
      this.db.prepare('DELETE FROM controllers WHERE id = ?').run(id);
      return nodes;
    })();
  }

  async setNodeStream(nodeId: string, controllerId: string, online: boolean, at: number): Promise<void> {
    if (online) {
      this.db.prepare('INSERT INTO node_streams (node_id, controller_id, since) VALUES (?, ?, ?) ON CONFLICT(node_id, controller_id) DO NOTHING').run(nodeId, controllerId, at);
    } else {
      this.db.prepare('DELETE FROM node_streams WHERE node_id = ? AND controller_id = ?').run(nodeId, controllerId);
    }
  }

  async listNodeStreams(): Promise<NodeStreamRecord[]> {
    return (this.db.prepare('SELECT node_id, controller_id, since FROM node_streams ORDER BY node_id, controller_id').all() as Array<{ node_id: string; controller_id: string; since: number }>).map(
      (r) => ({ nodeId: r.node_id, controllerId: r.controller_id, since: r.since }),
    );
  }
}
