import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControllerServices } from './controller-services';
import { BODY_LIMITS, ROUTES, type AuditEvent, type AuditQuery, type AuditVerifyReport } from '../wire';
import { auditQuery, auditVerifyQuery } from './schemas';

const ACTOR = 'admin';
/** How often an open follow stream looks for new entries, ms. */
const FOLLOW_POLL_MS = 500;

interface AuditQueryString {
  limit?: number;
  since?: number;
  until?: number;
  node?: string;
  type?: string;
  afterSeq?: number;
}

/** toQuery turns the query string into a store query, resolving a node name to its id. */
async function toQuery(s: ControllerServices, q: AuditQueryString, limit: number): Promise<AuditQuery> {
  const out: AuditQuery = { limit };
  if (q.since !== undefined) out.since = q.since;
  if (q.until !== undefined) out.until = q.until;
  if (q.afterSeq !== undefined) out.afterSeq = q.afterSeq;
  if (q.type !== undefined) out.types = q.type.split(',');
  if (q.node !== undefined) {
    const node = await s.store.findNode(q.node);
    out.node = node?.id ?? q.node;
    out.nodeName = node?.name ?? q.node;
  }
  return out;
}

/**
 * registerAuditRoutes: reading, following and verifying the audit log, behind the admin token (the
 * caller registers them inside the admin scope). Each read and each verification is itself audited;
 * a follow stream is audited once when it opens.
 */
export function registerAuditRoutes(scope: FastifyInstance, s: ControllerServices): void {
  const limits = { bodyLimit: BODY_LIMITS.admin };

  scope.get(ROUTES.adminAudit, { ...limits, schema: { querystring: auditQuery } }, async (request) => {
    const q = request.query as AuditQueryString;
    const events: AuditEvent[] = await s.store.queryAudit(await toQuery(s, q, q.limit ?? 100));
    await s.audit({ action: 'admin.audit.read', actor: ACTOR, details: { ...q, limit: q.limit ?? 100, returned: events.length } });
    return events;
  });

  scope.get(ROUTES.adminAuditVerify, { ...limits, schema: { querystring: auditVerifyQuery } }, async () => {
    const report: AuditVerifyReport = await s.store.verifyAudit(s.trust.signingKey.publicKey);
    await s.audit({ action: 'admin.audit.verified', actor: ACTOR, details: { ok: report.ok, entries: report.entries, firstBad: report.firstBad } });
    return report;
  });

  scope.get(ROUTES.adminAuditStream, { ...limits, schema: { querystring: auditQuery } }, async (request: FastifyRequest, reply) => {
    const q = request.query as AuditQueryString;
    const query = await toQuery(s, q, 500);
    // Without afterSeq the stream starts at the newest entry: it shows what happens from now on.
    let cursor = q.afterSeq ?? (await s.store.auditHead())?.seq ?? 0;
    await s.audit({ action: 'admin.audit.followed', actor: ACTOR, details: { ...q, from: cursor } });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`event: ready\ndata: ${JSON.stringify({ afterSeq: cursor })}\n\n`);
    let polling = false;
    const poll = async () => {
      if (polling || res.destroyed) return;
      polling = true;
      try {
        for (;;) {
          // The head is read first: entries the filter skips up to it move the cursor, later ones are read next time.
          const head = (await s.store.auditHead())?.seq ?? cursor;
          const page = await s.store.queryAudit({ ...query, afterSeq: cursor });
          for (const e of page) res.write(`event: audit\ndata: ${JSON.stringify(e)}\n\n`);
          if (page.length > 0) cursor = page.at(-1)!.seq;
          if (page.length < query.limit) {
            cursor = Math.max(cursor, head);
            break;
          }
        }
      } catch (err) {
        s.log.error({ err }, 'audit follow stream failed');
        res.destroy();
      } finally {
        polling = false;
      }
    };
    const timer = setInterval(() => void poll(), FOLLOW_POLL_MS);
    const ping = setInterval(() => res.write(`event: ping\ndata: {}\n\n`), 15_000);
    res.on('close', () => {
      clearInterval(timer);
      clearInterval(ping);
    });
  });
}
