import type { NodeEvent } from '../api/hooks';
import type { Logger } from '../log/logger';
import type { HookRunner } from '../plugins/hook-runner';
import type { AuditEntry, NodeRecord, Store } from '../store/store';
import type { ControllerSigningKey } from '../auth/controller-signing-key';
import type { AdminGuard } from './admin-token';
import type { AuthFailureLog } from './auth-failure-log';
import type { StreamCap } from './stream-cap';
import type { TrustSettings } from './trust-settings';
import type { MapStreamer } from './map-streamer';
import type { NodeAuthenticator } from './node-auth';
import type { NodeKeys } from './node-keys';
import type { PolicyLibrary } from './policy-library';
import type { PostureDecider } from './posture-decider';
import type { Presence } from './presence';
import type { RouteTable } from './route-table';
import type { TopologySettings } from './topology-settings';

export interface ControllerTrust {
  settings: TrustSettings;
  failures: AuthFailureLog;
  streams: StreamCap;
  signingKey: ControllerSigningKey;
}

/** ControllerServices is what the route modules share. */
export interface ControllerServices {
  store: Store;
  streamer: MapStreamer;
  presence: Presence;
  hooks: HookRunner;
  nodeAuth: NodeAuthenticator;
  /** The key lifecycle: rotation, renewal, rotation requests, expiry, `event: key`. */
  keys: NodeKeys;
  /** Policy versions (push, rollback, explain through the registered engine). */
  policies: PolicyLibrary;
  /** Advertised routes, their approval, health and primaries. */
  routes: RouteTable;
  /** The controller's topology (config file or `trellis topology set`). */
  topology: TopologySettings;
  /** The controller's posture decisions on reported facts. */
  posture: PostureDecider;
  admin: AdminGuard;
  /** Abuse limits, the failed-authentication log, the stream cap and the controller's signing key. */
  trust: ControllerTrust;
  log: Logger;
  clock: () => number;
  /** Appends to the audit log; a failure to audit is logged, never thrown into the request. */
  audit(entry: AuditEntry): Promise<void>;
  /** Tells plugins (onNodeEvent, parallel) about a node; resolves when they are done. */
  nodeEvent(kind: NodeEvent['kind'], node: Pick<NodeRecord, 'id' | 'name'>, details?: Record<string, unknown>): Promise<void>;
}
