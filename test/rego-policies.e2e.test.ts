/**
 * The shipped Rego policies pass their own tests with the pinned opa CLI (`opa test policies/`),
 * and `opa check --strict` finds nothing to complain about.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { resolveOpaBinary } from '../plugins/posture-opa/src/opa-cli';

const run = promisify(execFile);
const root = join(__dirname, '..');
jest.setTimeout(60_000);

test('opa check --strict accepts every policy', async () => {
  const opa = resolveOpaBinary();
  await expect(run(opa, ['check', '--strict', 'policies/'], { cwd: root })).resolves.toBeDefined();
});

test('opa test passes for every policy and runs their tests', async () => {
  const opa = resolveOpaBinary();
  const { stdout } = await run(opa, ['test', 'policies/', '--format', 'json'], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
  const results = JSON.parse(stdout) as Array<{ package: string; name: string; fail?: boolean; error?: unknown }>;
  const packages = new Set(results.map((r) => r.package));
  expect(packages).toEqual(new Set(['data.trellis.access_test', 'data.trellis.posture_test', 'data.trellis.routes_test', 'data.trellis.topology_test']));
  expect(results.length).toBeGreaterThanOrEqual(40);
  expect(results.filter((r) => r.fail || r.error).map((r) => `${r.package}.${r.name}`)).toEqual([]);
});
