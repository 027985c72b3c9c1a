/**
 * The telemetry route: agents post signed batches of probe, tunnel and plugin rows; the controller
 * stamps them with the authenticated node, drops batch ids it already took, folds them into the
 * LiveTelemetry store and hands them to onTelemetry exporters without waiting for them.
 */
import { requireAdmin } from './admin-token';
import type { FastifyInstance } from 'fastify';
import type { TelemetryBatch } from '../api/telemetry';
import { BatchIdLru } from './batch-id-lru';
import type { ControllerServices } from './controller-services';
import type { LiveTelemetry } from './live-telemetry';
import { signedNode } from './node-routes';
import { BODY_LIMITS, ROUTES, type TelemetryRequest, type TelemetryResponse } from '../wire';
import { emptyQuery } from './schemas';

const name = { type: 'string', minLength: 1, maxLength: 253 } as const;
const ms = { type: 'integer', minimum: 0, maximum: 8_640_000_000_000 } as const;
const count = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const micros = { type: 'number', minimum: 0, maximum: 4_294_967_295 } as const;
const MAX_ROWS = 50_000;

export const telemetryBody = {
  type: 'object',
  additionalProperties: false,
  required: ['batchId', 'sentAt', 'probes', 'tunnels'],
  properties: {
    batchId: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.:-]+$' },
    sentAt: ms,
    probes: {
      type: 'array',
      maxItems: MAX_ROWS,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['ts', 'src', 'dst', 'path', 'seq', 'rttUs', 'lost', 'jitterUs'],
        properties: {
          ts: ms,
          src: name,
          dst: name,
          path: name,
          seq: count,
          rttUs: { ...micros, nullable: true },
          lost: { type: 'boolean' },
          jitterUs: micros,
        },
      },
    },
    tunnels: {
      type: 'array',
      maxItems: MAX_ROWS,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['ts', 'src', 'dst', 'rxBytes', 'txBytes', 'handshakeAgeS', 'up'],
        properties: {
          ts: ms,
          src: name,
          dst: name,
          rxBytes: count,
          txBytes: count,
          handshakeAgeS: { type: 'number', minimum: 0, nullable: true },
          up: { type: 'boolean' },
        },
      },
    },
    relays: {
      type: 'array',
      maxItems: MAX_ROWS,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['ts', 'src', 'port', 'forwardedPackets', 'forwardedBytes', 'droppedPackets', 'droppedNotAllowed', 'nodes', 'sessions'],
        properties: {
          ts: ms,
          src: name,
          port: { type: 'integer', minimum: 1, maximum: 65535 },
          forwardedPackets: count,
          forwardedBytes: count,
          droppedPackets: count,
          droppedNotAllowed: count,
          nodes: count,
          sessions: count,
        },
      },
    },
    plugins: {
      type: 'object',
      maxProperties: 64,
      propertyNames: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,127}$' },
      additionalProperties: { type: 'array', maxItems: MAX_ROWS, items: { type: 'object', maxProperties: 64 } },
    },
  },
} as const;

export interface TelemetryRouteOptions {
  live: LiveTelemetry;
  /** Accepted batch ids remembered per controller run. Default 10 000. */
  dedupCapacity?: number;
  /** Told about each accepted batch (metrics). */
  onAccepted?: (batch: TelemetryBatch, duplicate: boolean) => void;
}

/**
 * stampBatch makes the batch the node's own: node, nodeId, probe, tunnel and relay src and every plugin
 * row's node all come from the authenticated node, never from the body.
 */
export function stampBatch(body: TelemetryRequest, node: { id: string; name: string }): TelemetryBatch {
  return {
    batchId: body.batchId,
    node: node.name,
    nodeId: node.id,
    sentAt: body.sentAt,
    probes: body.probes.map((p) => ({ ...p, src: node.name })),
    tunnels: body.tunnels.map((t) => ({ ...t, src: node.name })),
    ...(body.relays ? { relays: body.relays.map((r) => ({ ...r, src: node.name })) } : {}),
    ...(body.plugins ? { plugins: mapValues(body.plugins, (rows) => rows.map((r) => ({ ...r, node: node.name }))) } : {}),
  };
}

const mapValues = <A, B>(o: Record<string, A>, f: (a: A) => B): Record<string, B> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));

/** registerTelemetryRoute adds POST /v1/node/telemetry (signed) and GET /v1/admin/telemetry/live (admin). */
export function registerTelemetryRoute(app: FastifyInstance, s: ControllerServices, opts: TelemetryRouteOptions): void {
  const seen = new BatchIdLru(opts.dedupCapacity ?? 10_000);
  const preValidation = signedNode(s);

  app.post(ROUTES.telemetry, { bodyLimit: BODY_LIMITS.telemetry, preValidation, schema: { body: telemetryBody, querystring: emptyQuery } }, async (request) => {
    const node = request.node!;
    const body = request.body as TelemetryRequest;
    const accepted = {
      probes: body.probes.length,
      tunnels: body.tunnels.length,
      ...(body.relays ? { relays: body.relays.length } : {}),
      plugins: mapValues(body.plugins ?? {}, (rows) => rows.length),
    };
    if (!seen.remember(node.id, body.batchId)) {
      opts.onAccepted?.(stampBatch(body, node), true);
      const res: TelemetryResponse = { duplicate: true, accepted };
      return res;
    }
    const batch = stampBatch(body, node);
    opts.live.addProbes(batch.probes);
    opts.live.addTunnels(batch.tunnels);
    opts.onAccepted?.(batch, false);
    // Exporters buffer on their own; the agent's answer never waits for them.
    if (s.hooks.has('onTelemetry')) {
      void s.hooks.runParallel('onTelemetry', batch).catch((err: unknown) => s.log.error({ err, node: node.name }, 'onTelemetry hooks failed'));
    }
    const res: TelemetryResponse = { duplicate: false, accepted };
    return res;
  });

  void app.register(async (scope) => {
    scope.addHook('onRequest', requireAdmin(s));
    scope.get(ROUTES.adminTelemetryLive, { bodyLimit: BODY_LIMITS.admin, schema: { querystring: emptyQuery } }, async () => ({
      at: s.clock(),
      paths: opts.live.snapshot(),
    }));
  });
}
