import type { FastifyInstance } from 'fastify';
import { requireAdmin } from './admin-token';
import type { AdminRouteHandler } from '../api/plugin';
import { errors } from '../errors';
import type { ControllerServices } from './controller-services';
import { BODY_LIMITS, ROUTES } from '../wire';

const PATH = /^\/v1\/admin\/[a-z0-9][a-z0-9_-]*(\/[a-z0-9][a-z0-9_-]*)*$/;
// Live alerts are served through this registry once a plugin provides them (ControllerAccess.registerAlerts).
const CORE_PATHS = new Set<string>(Object.values(ROUTES).filter((p) => p !== ROUTES.adminAlerts));

/**
 * PluginAdminRoutes is the extension point behind ControllerAccess.registerAdminRoute: plugins add
 * read-only admin GET routes during setup, the controller mounts them once behind the admin guard,
 * and the web console can call the same handlers for a logged-in session.
 */
export class PluginAdminRoutes {
  private readonly routes = new Map<string, AdminRouteHandler>();
  private mounted = false;

  /** register refuses a malformed, core or already taken path, and any call after the server was built. */
  register(path: string, handler: AdminRouteHandler): void {
    if (typeof path !== 'string' || !PATH.test(path)) {
      throw errors.configInvalid(`admin route "${String(path)}"`, 'must be a lower-case path under /v1/admin/ (letters, digits, _ and -, no parameters)');
    }
    if (typeof handler !== 'function') throw errors.configInvalid(`admin route ${path}`, 'needs a handler function');
    if (CORE_PATHS.has(path) || this.routes.has(path)) throw errors.configInvalid(`admin route ${path}`, 'is already served; pick another path');
    if (this.mounted) throw errors.configInvalid(`admin route ${path}`, 'was registered after the controller started; register admin routes from setup');
    this.routes.set(path, handler);
  }

  paths(): string[] {
    return [...this.routes.keys()].sort();
  }

  /** call runs a registered handler directly (the console does, with its own session check). */
  async call(path: string, query: Record<string, string | undefined> = {}): Promise<unknown> {
    const h = this.routes.get(path);
    if (!h) throw errors.notFound(`admin route ${path}`);
    return h({ query });
  }

  /** mount serves every registered route behind the Bearer admin token; reads are audited like core reads. */
  mount(app: FastifyInstance, s: ControllerServices): void {
    this.mounted = true;
    if (this.routes.size === 0) return;
    void app.register(async (scope) => {
      scope.addHook('onRequest', requireAdmin(s));
      for (const [path, handler] of this.routes) {
        scope.get(path, { bodyLimit: BODY_LIMITS.admin }, async (request) => {
          const query = Object.fromEntries(Object.entries((request.query ?? {}) as Record<string, unknown>).map(([k, v]) => [k, v === undefined ? undefined : String(v)]));
          const out = await handler({ query });
          await s.audit({ action: 'admin.plugin-route.read', actor: 'admin', details: { route: path } });
          return out ?? null;
        });
      }
    });
  }
}
