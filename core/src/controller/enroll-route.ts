import type { FastifyInstance, FastifyRequest, preParsingAsyncHookHandler } from 'fastify';
import { errors, TrellisError } from '../errors';
import { isEd25519PublicKey, isKey32 } from '../auth/keys';
import { rateLimited } from './abuse-limits';
import { canonicalEndpoints } from './candidate-report';
import { parseAuthKey } from './auth-key-format';
import type { ControllerServices } from './controller-services';
import { newNodeId } from './node-id';
import { SETTING_REQUIRE_APPROVAL } from './settings';
import { BODY_LIMITS, ROUTES, type EnrollRequest, type EnrollResponse } from '../wire';
import { emptyQuery, enrollBody } from './schemas';

/**
 * registerEnrollRoute: POST /v1/enroll. The auth key is the credential, and the request is signed
 * with the identity key it enrols (proof of possession), so knowing a node's public keys and any
 * usable auth key is not enough to take over its record. Rate-limited per source address.
 */
export function registerEnrollRoute(app: FastifyInstance, s: ControllerServices): void {
  const failed = async (request: FastifyRequest, err: TrellisError, extra: Record<string, unknown> = {}) =>
    s.trust.failures.failed({ source: request.ip, route: 'POST /v1/enroll', code: err.code, details: extra });
  // The proof headers are checked before the body is read: a request without them never gets parsed.
  const preParsing: preParsingAsyncHookHandler = async (request, _reply, payload) => {
    try {
      s.nodeAuth.possessionHeaders(request);
    } catch (err) {
      if (err instanceof TrellisError) await failed(request, err);
      throw err;
    }
    return payload;
  };
  app.post(ROUTES.enroll, { bodyLimit: BODY_LIMITS.enroll, preParsing, ...rateLimited(s.trust.settings.limits, 'enroll'), schema: { body: enrollBody, querystring: emptyQuery } }, async (request) => {
    const body = request.body as EnrollRequest;
    const parsed = parseAuthKey(body.authKey);
    let result;
    try {
      if (!isKey32(body.wgKey)) throw errors.badRequest('body.wgKey is not base64 of a 32-byte key');
      if (!isKey32(body.identityKey)) throw errors.badRequest('body.identityKey is not base64 of a 32-byte key');
      if (!isEd25519PublicKey(body.identityKey)) throw errors.badRequest('body.identityKey is not an Ed25519 public key (not a point on the curve)');
      const endpoints = canonicalEndpoints(body.endpoints, 'body.endpoints');
      const proof = s.nodeAuth.verifyPossession({ method: request.method, url: request.url, headers: request.headers, rawBody: request.rawBody ?? Buffer.alloc(0), ip: request.ip }, body.identityKey);
      if (!parsed) throw errors.enrollKeyUnknown();
      result = await s.store.enrollNode({
        keyId: parsed.id,
        secret: parsed.secret,
        newNodeId: newNodeId(),
        name: body.name,
        hostname: body.hostname,
        wgKey: body.wgKey,
        identityKey: body.identityKey,
        endpoints,
        relay: body.relay ?? null,
        now: s.clock(),
        actor: `remote:${request.ip}`,
        requireApproval: (await s.store.getMeta(SETTING_REQUIRE_APPROVAL)) === 'true',
        lifetimes: s.keys.lifetimes,
      });
      await proof.consumeNonce();
    } catch (err) {
      if (err instanceof TrellisError) await failed(request, err, { name: body.name, keyId: parsed?.id ?? null });
      throw err;
    }
    const { node, outcome, replaced } = result;
    if (replaced) {
      s.streamer.closeStreams(replaced.id);
      s.presence.forget(replaced.id);
      s.streamer.nodeChanged(replaced.id, `${replaced.name} replaced`);
      await s.nodeEvent('revoked', replaced, { reason: 'replaced by a new enrollment with the same name' });
    }
    if (outcome !== 'reenrolled' || !s.streamer.hasMap(node.id)) {
      s.streamer.nodeChanged(node.id, `enroll ${node.name}`);
      await s.streamer.settled();
    }
    const map = s.streamer.currentMap(node.id);
    if (!map) throw errors.internal();
    if (outcome !== 'reenrolled') {
      s.keys.nodeEnrolled(node.identityExpiresAt ?? null);
      await s.nodeEvent('enrolled', node, { outcome, ipv4: node.ipv4, ipv6: node.ipv6, ...s.keys.eventDetails(node) });
    }
    const res: EnrollResponse = { nodeId: node.id, name: node.name, addresses: { ipv4: node.ipv4, ipv6: node.ipv6 }, map };
    return res;
  });
}
