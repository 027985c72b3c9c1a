import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { PluginContext } from '@trellis/core/api';
import { compilePolicies } from './opa-cli';
import { createPostureOpaPlugin, postureOpaPlugin, type PostureOpaConfig } from './posture-plugin';

const POLICIES = resolve(__dirname, '../../../policies');
const NOW = Date.UTC(2024, 5, 1);
let tmp: string;
let bundlePath: string;
let version: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'trellis-posture-plugin-'));
  ({ bundlePath, version } = await compilePolicies(POLICIES, { outFile: join(tmp, 'bundle.tgz') }));
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function ctx(config: PostureOpaConfig): PluginContext<PostureOpaConfig> {
  const logged: unknown[] = [];
  const log = { debug: () => {}, info: (o: unknown) => logged.push(o), warn: () => {}, error: () => {} };
  return { side: 'agent', log, meter: {} as PluginContext['meter'], config };
}

describe('posture-opa plugin', () => {
  it('has the manifest the plugin host checks', () => {
    expect(postureOpaPlugin.manifest).toMatchObject({ name: 'posture-opa', apiRange: '^1.0.0', sides: ['agent', 'controller'] });
    expect(postureOpaPlugin.manifest.configSchema).toMatchObject({ properties: { bundle: { type: 'string' } } });
  });

  it('answers null before setup, then decides posture with the bundle and reports its version', async () => {
    const plugin = createPostureOpaPlugin({ clock: () => NOW });
    expect(await plugin.evaluatePosture!({})).toBeNull();
    await plugin.setup!(ctx({ bundle: bundlePath }));
    expect(plugin.evaluator()?.version).toBe(version);
    const facts = {
      os: { id: 'debian', versionId: '11' },
      kernel: { release: '6.1.0-18-amd64' },
      agent: { version: '0.1.0' },
      processes: ['telnetd'],
      wgKey: { createdAt: NOW - 200 * 86_400_000 },
    };
    expect(await plugin.evaluatePosture!(facts)).toEqual({
      compliant: false,
      reasons: [
        'debian 11 is older than the required 12',
        'forbidden processes are running: telnetd',
        'WireGuard key is 200 days old; the maximum is 180 days',
      ],
      checks: { os_version: false, kernel_version: true, agent_version: true, forbidden_processes: false, wg_key_age: false },
      policyVersion: version,
    });
    await plugin.shutdown!();
    expect(await plugin.evaluatePosture!(facts)).toBeNull();
  });

  it('fails setup on a missing bundle with a message that says what to do', async () => {
    const plugin = createPostureOpaPlugin();
    await expect(plugin.setup!(ctx({ bundle: join(tmp, 'nope.tar.gz') }))).rejects.toThrow(/nope.tar.gz: cannot be read \(ENOENT\); rebuild it/);
    expect(plugin.evaluator()).toBeNull();
  });
});
