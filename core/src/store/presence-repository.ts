/**
 * Presence shared between controllers: which controllers run (each refreshes its heartbeat), and
 * which of them holds an open map stream of which node. With several controllers on one store,
 * every map says a node is online when any live controller holds a stream of it.
 */

export interface ControllerRecord {
  id: string;
  /** The URL it serves on, for people (status, logs). */
  url: string;
  /** Its map epoch. */
  epoch: string;
  startedAt: number;
  heartbeatAt: number;
}

export interface NodeStreamRecord {
  nodeId: string;
  controllerId: string;
  /** Since when this controller holds a stream of the node, unix ms. */
  since: number;
}

export interface PresenceRepository {
  /** heartbeatController records the controller (first call) and refreshes its heartbeat. */
  heartbeatController(controller: Omit<ControllerRecord, 'heartbeatAt'>, at: number): Promise<void>;
  listControllers(): Promise<ControllerRecord[]>;
  /**
   * removeController forgets a controller and the streams it held (it stopped, or its heartbeat
   * lapsed); returns the ids of those nodes. Removing an unknown controller returns [].
   */
  removeController(id: string): Promise<string[]>;
  /** setNodeStream records that the controller now holds (online) or no longer holds a stream of the node. */
  setNodeStream(nodeId: string, controllerId: string, online: boolean, at: number): Promise<void>;
  listNodeStreams(): Promise<NodeStreamRecord[]>;
}
