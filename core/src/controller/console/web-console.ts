/**
 * console: the controller's built-in web console at /console. A single page (plain HTML, one vanilla
 * JS file, one CSS file, nothing external) behind an admin login: the admin token is posted once,
 * and a server-side session (HttpOnly, SameSite=Strict cookie) authorises the read-only
 * /console/api/* routes. Live updates are Server-Sent Events carrying a snapshot every 2 s and
 * right after node events. It needs no other service; with a plugin that provides path history
 * (ControllerAccess.registerPathHistory) it adds the history charts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../../errors';
import { rateLimited } from '../abuse-limits';
import { consoleLoginBody, noBody } from '../schemas';
import type { ControllerServices } from '../controller-services';
import type { LiveTelemetry } from '../live-telemetry';
import type { PluginSources } from '../plugin-sources';
import { errorBody, statusFor } from '../http-errors';
import { CONSOLE_COOKIE, ConsoleSessions, sessionIdFrom, type ConsoleSessionOptions } from './console-sessions';
import { buildConsoleSnapshot } from './console-snapshot';

export const CONSOLE_ROUTES = {
  page: '/console',
  login: '/console/login',
  logout: '/console/logout',
  script: '/console/app.js',
  style: '/console/app.css',
  snapshot: '/console/api/snapshot',
  events: '/console/api/events',
  history: '/console/api/history',
} as const;

export interface WebConsoleOptions {
  services: ControllerServices;
  live: LiveTelemetry;
  /** What plugins provide to the console: path history (the charts) and live alerts (the panel). */
  sources: PluginSources;
  sessions?: ConsoleSessionOptions;
  /** Snapshot push interval, ms. Default 2000. */
  pushEveryMs?: number;
}

export interface WebConsole {
  /** Something changed (a node event): push a snapshot to every open page soon. */
  notify(): void;
  close(): void;
  readonly sessions: ConsoleSessions;
}

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
} as const;

/** staticDir finds the page's files beside this module (ts-jest, src) or from dist/ back in src/. */
function staticDir(): string {
  const candidates = [join(__dirname, 'static'), join(__dirname, '..', '..', '..', 'src', 'controller', 'console', 'static')];
  const found = candidates.find((d) => existsSync(join(d, 'index.html')));
  if (!found) throw errors.configInvalid('console', `its static files were not found (looked in ${candidates.join(', ')})`);
  return found;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** registerWebConsole adds the console routes to the controller's app and starts its push timer. */
export function registerWebConsole(app: FastifyInstance, o: WebConsoleOptions): WebConsole {
  const s = o.services;
  const sessions = new ConsoleSessions({ clock: s.clock, ...o.sessions });
  const dir = staticDir();
  const files = {
    index: readFileSync(join(dir, 'index.html'), 'utf8'),
    login: readFileSync(join(dir, 'login.html'), 'utf8'),
    script: readFileSync(join(dir, 'app.js'), 'utf8'),
    style: readFileSync(join(dir, 'app.css'), 'utf8'),
  };
  const clients = new Set<{ sid: string; write(event: string, data: string): void; end(): void }>();
  let pushTimer: NodeJS.Timeout | null = null;
  let soon: NodeJS.Timeout | null = null;
  let pushing = false;

  const sidOf = (request: FastifyRequest) => sessionIdFrom(request.headers.cookie);
  const cookie = (value: string, maxAgeS: number) => `${CONSOLE_COOKIE}=${value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}`;

  const loginPage = (reply: FastifyReply, status: number, error: string | null) =>
    reply
      .code(status)
      .headers(SECURITY_HEADERS)
      .type('text/html; charset=utf-8')
      .send(files.login.replace('<!--ERROR-->', error ? `<p class="error" id="login-error" role="alert">${escapeHtml(error)}</p>` : ''));

  const snapshot = () => buildConsoleSnapshot(s, o.live, o.sources);

  const push = async () => {
    if (pushing || clients.size === 0) return;
    pushing = true;
    try {
      const data = JSON.stringify(await snapshot());
      for (const c of clients) {
        if (!sessions.valid(c.sid, false)) {
          c.write('expired', '{}');
          c.end();
          continue;
        }
        c.write('snapshot', data);
      }
    } catch (err) {
      s.log.error({ err }, 'console: snapshot failed');
    } finally {
      pushing = false;
    }
  };

  void app.register(async (scope) => {
    // The login form posts application/x-www-form-urlencoded; only this scope parses it.
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    const requireSession = async (request: FastifyRequest) => {
      if (!sessions.valid(sidOf(request))) throw errors.adminUnauthorized();
    };

    scope.get(CONSOLE_ROUTES.page, async (request, reply) => {
      if (!sessions.valid(sidOf(request))) return loginPage(reply, 200, null);
      return reply.headers(SECURITY_HEADERS).type('text/html; charset=utf-8').send(files.index);
    });
    scope.get(CONSOLE_ROUTES.script, async (_request, reply) => reply.headers(SECURITY_HEADERS).type('text/javascript; charset=utf-8').send(files.script));
    scope.get(CONSOLE_ROUTES.style, async (_request, reply) => reply.headers(SECURITY_HEADERS).type('text/css; charset=utf-8').send(files.style));

    const formDefault = async (request: FastifyRequest) => {
      if (request.body === undefined || request.body === null) request.body = {};
    };
    scope.post(CONSOLE_ROUTES.login, { bodyLimit: 4096, ...rateLimited(s.trust.settings.limits, 'consoleLogin'), preValidation: formDefault, schema: { body: consoleLoginBody } }, async (request, reply) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      const token = typeof body.token === 'string' ? body.token.trim() : '';
      if (!token || !s.admin.verify(`Bearer ${token}`)) {
        await s.trust.failures.failed({ source: request.ip, route: 'POST /console/login', code: errors.adminUnauthorized().code });
        return loginPage(reply, 401, 'Wrong admin token. Use the token in the controller’s admin.token file.');
      }
      const sid = sessions.create();
      await s.audit({ action: 'console.login', actor: 'admin', details: { remote: request.ip } });
      return reply.code(303).header('set-cookie', cookie(sid, Math.floor(sessions.maxAgeMs / 1000))).header('location', CONSOLE_ROUTES.page).send();
    });

    scope.post(CONSOLE_ROUTES.logout, { bodyLimit: 4096, preValidation: formDefault, schema: { body: noBody } }, async (request, reply) => {
      const sid = sidOf(request);
      if (sessions.valid(sid, false)) await s.audit({ action: 'console.logout', actor: 'admin', details: { remote: request.ip } });
      sessions.destroy(sid);
      return reply.code(303).header('set-cookie', cookie('', 0)).header('location', CONSOLE_ROUTES.page).send();
    });

    scope.get(CONSOLE_ROUTES.snapshot, { preValidation: requireSession }, async (_request, reply) => reply.headers(SECURITY_HEADERS).send(await snapshot()));

    scope.get(CONSOLE_ROUTES.history, { preValidation: requireSession }, async (_request, reply) => {
      const history = o.sources.pathHistory;
      if (!history) throw errors.notFound('history: no plugin on this controller provides path history (telemetry-clickhouse does)');
      try {
        return reply.headers(SECURITY_HEADERS).send({ series: await history.p95RttHistory(60) });
      } catch (err) {
        s.log.warn({ err: (err as Error).message }, 'console: history query failed');
        const e = errors.historyUnavailable((err as Error).message);
        return reply.code(statusFor(e.code)).headers(SECURITY_HEADERS).send(errorBody(e));
      }
    });

    scope.get(CONSOLE_ROUTES.events, { preValidation: requireSession }, async (request, reply) => {
      const sid = sidOf(request)!;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      const client = {
        sid,
        write(event: string, data: string) {
          if (res.writableEnded || res.destroyed) return;
          if (res.writableLength > 4 * 1024 * 1024) return void res.destroy();
          res.write(`event: ${event}\ndata: ${data}\n\n`);
        },
        end() {
          clients.delete(client);
          res.end();
        },
      };
      clients.add(client);
      res.on('close', () => clients.delete(client));
      try {
        client.write('snapshot', JSON.stringify(await snapshot()));
      } catch (err) {
        s.log.error({ err }, 'console: snapshot failed');
      }
    });
  });

  pushTimer = setInterval(() => void push(), o.pushEveryMs ?? 2000);
  pushTimer.unref();

  return {
    sessions,
    notify() {
      if (soon || clients.size === 0) return;
      soon = setTimeout(() => {
        soon = null;
        void push();
      }, 150);
      soon.unref();
    },
    close() {
      if (pushTimer) clearInterval(pushTimer);
      if (soon) clearTimeout(soon);
      for (const c of [...clients]) c.end();
    },
  };
}
