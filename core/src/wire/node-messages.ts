/** Bodies of the signed node routes: what an agent sends and what the controller answers. */
import type { Facts, PostureDecision } from '../api/hooks';
import type { TelemetryBatch } from '../api/telemetry';
import type { NetworkMapData } from '../netmap/types';

export interface EnrollRequest {
  authKey: string;
  name: string;
  hostname: string;
  /** base64 X25519 public key */
  wgKey: string;
  /** base64 Ed25519 public key */
  identityKey: string;
  endpoints: string[];
}

export interface EnrollResponse {
  nodeId: string;
  name: string;
  addresses: { ipv4: string; ipv6: string };
  map: NetworkMapData;
}

export interface EndpointsRequest {
  endpoints: string[];
}

export interface FactsRequest {
  facts: Facts;
  posture?: PostureDecision | null;
}

/** What an agent posts to ROUTES.telemetry: node and nodeId are set by the controller from the signature. */
export type TelemetryRequest = Omit<TelemetryBatch, 'node' | 'nodeId'>;

export interface TelemetryResponse {
  /** True when this batchId had been accepted before (a retry); the rows were not exported again. */
  duplicate: boolean;
  accepted: { probes: number; tunnels: number; shaping: number };
}
