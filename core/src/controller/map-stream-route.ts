import type { FastifyInstance } from 'fastify';
import { errors } from '../errors';
import type { MapResponse } from '../netmap/types';
import type { ControllerServices } from './controller-services';
import { mapResponseJson } from './map-response-json';
import type { MapSink } from './map-streamer';
import { signedNode } from './node-routes';
import { MAP_FEATURE_FILTER_PATCH, MAP_FEATURES_HEADER, ROUTES } from '../wire';
import { mapStreamQuery } from './schemas';

/** A stream whose client stopped reading is dropped past this much buffered output; it reconnects with ?since=. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/**
 * registerMapStreamRoute: GET /v1/map/stream, signed, Server-Sent Events. The first `event: map` is
 * a delta from ?since= when possible, else the full map; live deltas follow, `event: key` carries
 * the node's NodeKeyState (first, then on each change), and `event: ping` keeps the connection warm. A node is online while at least one of its streams is open.
 */
export function registerMapStreamRoute(app: FastifyInstance, s: ControllerServices): void {
  app.get(ROUTES.mapStream, { bodyLimit: 1024, preValidation: signedNode(s), schema: { querystring: mapStreamQuery } }, async (request, reply) => {
    const node = request.node!;
    const q = request.query as { since?: number; epoch?: string };
    const first = () => s.streamer.initialResponse(node.id, q.since ?? null, q.epoch ?? null);
    let initial = first();
    if (!initial) {
      s.streamer.nodeChanged(node.id, `stream of ${node.name}`);
      await s.streamer.settled();
      initial = first();
    }
    if (!initial) throw errors.nodeExpired(node.name);

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const write = (event: string, data: string) => {
      if (res.writableEnded || res.destroyed) return;
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        s.log.warn({ node: node.name }, 'map stream client is not reading; dropping the stream');
        res.destroy();
        return;
      }
      res.write(`event: ${event}\ndata: ${data}\n\n`);
    };
    const features = String(request.headers[MAP_FEATURES_HEADER] ?? '').split(',').map((f) => f.trim());
    const sink: MapSink = {
      filterPatches: features.includes(MAP_FEATURE_FILTER_PATCH),
      send: (r: MapResponse) => write('map', mapResponseJson(r)),
      ping: () => write('ping', JSON.stringify({ at: s.clock() })),
      close: () => res.end(),
    };
    sink.send(initial);
    const detach = s.streamer.attach(node.id, sink);
    const detachKeys = s.keys.attach(node, (state) => write('key', JSON.stringify(state)));
    const release = s.trust.streams.admit(node.id, () => {
      s.log.info({ node: node.name }, 'a newer map stream of this node replaced this one');
      res.end();
    });
    if (s.presence.connect(node.id, s.clock())) {
      s.streamer.nodeChanged(node.id, `${node.name} online`);
      void s.nodeEvent('online', node, s.keys.eventDetails(node));
    }
    res.on('close', () => {
      detach();
      detachKeys();
      release();
      const now = s.clock();
      if (s.presence.disconnect(node.id, now)) {
        s.streamer.nodeChanged(node.id, `${node.name} offline`);
        void s.store.touchNode(node.id, now).catch((err: unknown) => s.log.error({ err }, 'could not record lastSeen'));
        void s.nodeEvent('offline', node);
      }
    });
  });
}
