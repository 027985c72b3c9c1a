/**
 * The OpenAPI check: every route the controller serves (with the posture-opa and alerts-live
 * plugins loaded, so plugin routes count too) is in GET /v1/openapi.json, and every route that
 * takes a body has a schema that refuses unknown properties.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startController, type RouteInfo, type RunningController } from './controller';

let dir: string;
let c: RunningController;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'trellis-openapi-'));
  const config = join(dir, 'trellis.yaml');
  writeFileSync(config, 'controller:\n  plugins:\n    - name: posture-opa\n    - name: alerts-live\n');
  c = await startController({ listen: '127.0.0.1:0', dataDir: join(dir, 'data'), log: pino({ level: 'silent' }), configFile: config });
}, 60_000);
afterAll(async () => {
  await c?.close();
  rmSync(dir, { recursive: true, force: true });
});

const openapiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
const TAKES_BODY = new Set(['POST', 'PUT', 'PATCH']);

/** closedObjects says where a body schema lets unknown properties through (an object branch without additionalProperties: false). */
function openObjects(schema: Record<string, unknown>, where: string): string[] {
  const branches = Array.isArray(schema.anyOf) ? (schema.anyOf as Array<Record<string, unknown>>) : Array.isArray(schema.oneOf) ? (schema.oneOf as Array<Record<string, unknown>>) : [schema];
  const open: string[] = [];
  for (const [i, b] of branches.entries()) {
    const isObject = b.type === 'object' || b.properties !== undefined;
    if (b.type === 'null') continue;
    if (!isObject) open.push(`${where}[${i}] is not an object schema`);
    else if (b.additionalProperties !== false) open.push(`${where}[${i}] lacks additionalProperties: false`);
  }
  return open;
}

test('every route is in the OpenAPI document, and every body schema refuses unknown properties', async () => {
  const res = await fetch(`${c.url}/v1/openapi.json`);
  expect(res.status).toBe(200);
  const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, { requestBody?: unknown; parameters?: unknown[] }>> };
  expect(doc.openapi).toBe('3.1.0');

  const served = c.routes.filter((r) => r.method !== 'HEAD');
  expect(served.length).toBeGreaterThan(30);
  const missing = served.filter((r) => doc.paths[openapiPath(r.url)]?.[r.method.toLowerCase()] === undefined).map((r) => `${r.method} ${r.url}`);
  expect(missing).toEqual([]);

  const problems: string[] = [];
  for (const r of served.filter((x: RouteInfo) => TAKES_BODY.has(x.method))) {
    const body = r.schema?.body;
    if (!body) {
      problems.push(`${r.method} ${r.url} takes a body but has no body schema`);
      continue;
    }
    problems.push(...openObjects(body, `${r.method} ${r.url} body`));
    const op = doc.paths[openapiPath(r.url)]![r.method.toLowerCase()]!;
    if (op.requestBody === undefined) problems.push(`${r.method} ${r.url}: the document has no requestBody`);
  }
  expect(problems).toEqual([]);
  // Query strings are closed too: an unknown parameter is an error, not ignored.
  const openQueries = served.filter((r) => r.schema?.querystring && r.schema.querystring.additionalProperties !== false).map((r) => `${r.method} ${r.url}`);
  expect(openQueries).toEqual([]);
});
