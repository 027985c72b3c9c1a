import { PluginAdminRoutes } from './plugin-admin-routes';

test('registerAdminRoute refuses malformed, core and duplicate paths', async () => {
  const r = new PluginAdminRoutes();
  r.register('/v1/admin/alerts', ({ query }) => ({ limit: query.limit }));
  expect(r.paths()).toEqual(['/v1/admin/alerts']);
  expect(await r.call('/v1/admin/alerts', { limit: '3' })).toEqual({ limit: '3' });
  expect(() => r.register('/v1/admin/alerts', () => null)).toThrow(/is already served/);
  expect(() => r.register('/v1/admin/nodes', () => null)).toThrow(/is already served/);
  expect(() => r.register('/v1/node/telemetry', () => null)).toThrow(/must be a lower-case path under \/v1\/admin\//);
  expect(() => r.register('/v1/admin/:id', () => null)).toThrow(/no parameters/);
  await expect(r.call('/v1/admin/missing')).rejects.toThrow(/was not found/);
});
