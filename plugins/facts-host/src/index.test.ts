import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import { metrics } from '@opentelemetry/api';
import type { PluginContext } from '@trellis/core/api';
import factsHostDefault, { factsHostConfigSchema, factsHostPlugin, FactsHostErrorCode, type FactsHostConfig } from './index';

const quietLog = { debug() {}, info() {}, warn() {}, error() {} };
const ctx = (config: FactsHostConfig, agent?: PluginContext['agent']): PluginContext<FactsHostConfig> => ({
  side: 'agent',
  log: quietLog,
  meter: metrics.getMeter('test'),
  config: { processWatchMs: 0, ...config },
  agent,
});
const fixture = (name: string) => join(__dirname, 'fixtures', name, 'os-release');

describe('facts-host plugin', () => {
  it('declares an agent-side plugin for API ^1.0.0 with its package version', () => {
    expect(factsHostDefault).toBe(factsHostPlugin);
    expect(factsHostPlugin.manifest).toMatchObject({ name: 'facts-host', version: '0.1.0', apiRange: '^1.0.0', sides: ['agent'] });
  });

  it('has a config schema whose defaults match the documented ones', () => {
    const ajv = new Ajv({ useDefaults: true });
    const validate = ajv.compile(factsHostConfigSchema);
    const cfg: Record<string, unknown> = {};
    expect(validate(cfg)).toBe(true);
    expect(cfg).toEqual({ osReleasePath: '/etc/os-release', includeHostname: true, processScope: 'host', processWatchMs: 500 });
    expect(validate({ processScope: 'container' })).toBe(false);
    expect(validate({ includeHostname: 'yes' })).toBe(false);
    expect(validate({ other: 1 })).toBe(false);
  });

  it('collects facts from a fixture os-release and node:os', async () => {
    await factsHostPlugin.setup!(ctx({ osReleasePath: fixture('ubuntu-22.04'), includeHostname: true }));
    const facts = await factsHostPlugin.collectFacts!();
    expect(facts).toEqual({
      disk: expect.objectContaining({ rootEncrypted: expect.any(Boolean) }),
      processes: expect.arrayContaining([readFileSync('/proc/self/comm', 'utf8').trim()]),
      ...(facts.firewall ? { firewall: expect.objectContaining({ enabled: expect.any(Boolean) }) } : {}),
      os: { id: 'ubuntu', versionId: '22.04', name: 'Ubuntu', prettyName: 'Ubuntu 22.04.4 LTS' },
      kernel: { release: os.release(), version: os.version() },
      arch: os.machine(),
      hostname: os.hostname(),
      agent: { version: require('@trellis/core/package.json').version },
      cpus: os.cpus().length,
      memoryBytes: os.totalmem(),
    });
    expect(facts.cpus).toBeGreaterThan(0);
  });

  it('leaves the hostname out when asked to', async () => {
    await factsHostPlugin.setup!(ctx({ osReleasePath: fixture('debian-12'), includeHostname: false }));
    const facts = await factsHostPlugin.collectFacts!();
    expect(facts).not.toHaveProperty('hostname');
    expect(facts.os).toMatchObject({ id: 'debian', versionId: '12' });
  });

  it('reports a missing os-release as a clear error naming the path', async () => {
    await factsHostPlugin.setup!(ctx({ osReleasePath: '/nonexistent/os-release' }));
    await expect(factsHostPlugin.collectFacts!()).rejects.toMatchObject({
      code: FactsHostErrorCode.OS_RELEASE_UNREADABLE,
      message: expect.stringContaining('/nonexistent/os-release'),
    });
  });

  it('rejects a wrong config in setup', () => {
    expect(() => factsHostPlugin.setup!(ctx({ includeHostname: 'no' } as unknown as FactsHostConfig))).toThrow(
      /includeHostname must be true or false/,
    );
  });

  it('works against the real /etc/os-release with default config', async () => {
    await factsHostPlugin.setup!(ctx({}));
    const facts = await factsHostPlugin.collectFacts!();
    expect(typeof (facts.os as { id: string }).id).toBe('string');
    expect((facts.os as { id: string }).id.length).toBeGreaterThan(0);
    expect(facts.hostname).toBe(os.hostname());
  });

  it('reports the WireGuard key age the agent exposes, and refreshes facts when processes change', async () => {
    let refreshes = 0;
    const agent = { nodeName: 'a', iface: 'wg0', stateDir: '/tmp', requestFactsRefresh: () => void refreshes++, wgKeyCreatedAt: 1717200000000 };
    await factsHostPlugin.setup!(ctx({ processWatchMs: 50, processScope: 'netns' }, agent));
    expect(await factsHostPlugin.collectFacts!()).toMatchObject({ wgKey: { createdAt: 1717200000000 } });
    const dir = mkdtempSync(join(os.tmpdir(), 'facts-watch-'));
    const bin = join(dir, 'factswatch');
    copyFileSync('/bin/sleep', bin);
    await new Promise((r) => setTimeout(r, 100));
    const before = refreshes;
    const child = spawn(bin, ['5']);
    try {
      for (let i = 0; i < 40 && refreshes === before; i++) await new Promise((r) => setTimeout(r, 25));
      expect((await factsHostPlugin.collectFacts!()).processes).toContain('factswatch');
    } finally {
      child.kill('SIGKILL');
      await factsHostPlugin.shutdown!();
      rmSync(dir, { recursive: true, force: true });
    }
    expect(refreshes).toBeGreaterThan(before);
  });
});
