import type { FastifyInstance } from 'fastify';
import { errors, TrellisError } from '../errors';
import { ed25519PublicKey, isKey32 } from '../auth/keys';
import { canonicalEndpoint } from '../wg/cidr';
import { parseAuthKey } from './auth-key-format';
import type { ControllerServices } from './controller-services';
import { newNodeId } from './node-id';
import { SETTING_REQUIRE_APPROVAL } from './settings';
import { BODY_LIMITS, ROUTES, type EnrollRequest, type EnrollResponse } from '../wire';
import { emptyQuery, enrollBody } from './schemas';

/** canonicalEndpoints validates reported endpoints, naming the bad entry. */
export function canonicalEndpoints(list: string[], field: string): string[] {
  return list.map((ep, i) => {
    try {
      return canonicalEndpoint(ep, `${field}[${i}]`);
    } catch (err) {
      throw errors.badRequest(`${field}[${i}] "${ep}" is not ip:port or [ipv6]:port with a port in 1..65535`);
    }
  });
}

/** registerEnrollRoute: POST /v1/enroll, unsigned; the auth key is the credential. */
export function registerEnrollRoute(app: FastifyInstance, s: ControllerServices): void {
  app.post(ROUTES.enroll, { bodyLimit: BODY_LIMITS.enroll, schema: { body: enrollBody, querystring: emptyQuery } }, async (request) => {
    const body = request.body as EnrollRequest;
    const parsed = parseAuthKey(body.authKey);
    let result;
    try {
      if (!isKey32(body.wgKey)) throw errors.badRequest('body.wgKey is not base64 of a 32-byte key');
      if (!isKey32(body.identityKey)) throw errors.badRequest('body.identityKey is not base64 of a 32-byte key');
      try {
        ed25519PublicKey(body.identityKey);
      } catch {
        throw errors.badRequest('body.identityKey is not an Ed25519 public key');
      }
      const endpoints = canonicalEndpoints(body.endpoints, 'body.endpoints');
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
        now: s.clock(),
        actor: `remote:${request.ip}`,
        requireApproval: (await s.store.getMeta(SETTING_REQUIRE_APPROVAL)) === 'true',
        lifetimes: s.keys.lifetimes,
      });
    } catch (err) {
      if (err instanceof TrellisError) {
        await s.audit({
          action: 'auth.failure',
          actor: `remote:${request.ip}`,
          target: null,
          details: { code: err.code, remote: request.ip, route: 'enroll', name: body.name, keyId: parsed?.id ?? null },
        });
      }
      throw err;
    }
    const { node, outcome, replaced } = result;
    if (replaced) {
      s.streamer.closeStreams(replaced.id);
      s.presence.forget(replaced.id);
      s.streamer.nodeChanged(replaced.id, `${replaced.name} replaced`);
      await s.nodeEvent('revoked', replaced, { reason: 'replaced by a new enrollment with the same name' });
    }
    if (outcome !== 'reenrolled' || !s.streamer.currentMap(node.id)) {
      s.streamer.nodeChanged(node.id, `enroll ${node.name}`);
      await s.streamer.settled();
    }
    const map = s.streamer.currentMap(node.id);
    if (!map) throw errors.internal();
    if (outcome !== 'reenrolled') {
      s.keys.nodeEnrolled();
      await s.nodeEvent('enrolled', node, { outcome, ipv4: node.ipv4, ipv6: node.ipv6, ...s.keys.eventDetails(node) });
    }
    const res: EnrollResponse = { nodeId: node.id, name: node.name, addresses: { ipv4: node.ipv4, ipv6: node.ipv6 }, map };
    return res;
  });
}
