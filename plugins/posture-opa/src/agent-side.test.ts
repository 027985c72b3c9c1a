import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AgentAccess, ControllerFetchResult, NetworkMap } from '@trellis/core/api';
import { AgentPosture, POLICY_BUNDLE_PATH } from './agent-side';
import { policyVersion } from './policy-bundle';
import { evaluatePostureWith } from './posture-plugin';

const BUNDLE = readFileSync(resolve(__dirname, '../../../policies/dist/bundle.tgz'));
const VERSION = policyVersion(BUNDLE);

const mapWith = (ext: unknown): NetworkMap =>
  ({ extensions: ext === undefined ? {} : { 'posture-opa': ext } }) as unknown as NetworkMap;

function agent(answer: () => Promise<ControllerFetchResult>) {
  const calls: string[] = [];
  let refreshes = 0;
  const access: AgentAccess = {
    nodeName: 'n1',
    iface: 'wg0',
    stateDir: '/tmp',
    requestFactsRefresh: () => void refreshes++,
    fetchFromController: (path) => {
      calls.push(path);
      return answer();
    },
  };
  return { access, calls, refreshes: () => refreshes };
}

const errors: unknown[] = [];
const log = { debug() {}, info() {}, warn() {}, error: (o: unknown) => void errors.push(o) };
const facts = {
  os: { id: 'debian', versionId: '12' },
  kernel: { release: '6.1.0-18-amd64' },
  agent: { version: '0.1.0' },
  processes: ['systemd', 'telnetd'],
  wgKey: { createdAt: Date.now() },
};

describe('AgentPosture', () => {
  beforeEach(() => (errors.length = 0));

  it('fetches the bundle the map names, once, and asks for a facts round', async () => {
    const a = agent(async () => ({ status: 200, headers: { 'x-trellis-policy-version': VERSION }, body: BUNDLE }));
    const p = new AgentPosture({ log, agent: a.access, retryMs: 10 });
    await p.onNetworkMap(mapWith(undefined));
    expect(a.calls).toEqual([]);
    await p.onNetworkMap(mapWith({ version: VERSION }));
    await p.onNetworkMap(mapWith({ version: VERSION }));
    expect(a.calls).toEqual([POLICY_BUNDLE_PATH]);
    expect(p.evaluator?.version).toBe(VERSION);
    expect(a.refreshes()).toBe(1);

    const d = evaluatePostureWith(p.evaluator!, facts);
    p.record(d);
    expect(d).toMatchObject({ compliant: false, policyVersion: VERSION, reasons: ['forbidden processes are running: telnetd'] });
    expect(p.status()).toMatchObject({
      policyVersion: VERSION,
      wantedVersion: VERSION,
      fetchError: null,
      compliant: false,
      failedChecks: [{ check: 'forbidden_processes', reason: 'forbidden processes are running: telnetd' }],
      quarantinedByController: null,
    });
    p.stop();
  });

  it('keeps the previous policy when a fetch fails, logs it, and retries', async () => {
    let fail = true;
    const a = agent(async () => {
      if (fail) return { status: 503, headers: {}, body: Buffer.from('{"error":{"code":"X","message":"no policy"}}') };
      return { status: 200, headers: {}, body: BUNDLE };
    });
    const p = new AgentPosture({ log, agent: a.access, retryMs: 20 });
    await p.onNetworkMap(mapWith({ version: VERSION }));
    expect(p.evaluator).toBeNull();
    expect(p.status().fetchError).toMatch(/answered 503.*no policy/);
    expect(errors).toHaveLength(1);
    fail = false;
    for (let i = 0; i < 50 && !p.evaluator; i++) await new Promise((r) => setTimeout(r, 10));
    expect(p.evaluator?.version).toBe(VERSION);
    expect(p.status().fetchError).toBeNull();
    p.stop();
  });

  it('refuses bytes that are not a bundle and keeps the policy in force', async () => {
    const good = agent(async () => ({ status: 200, headers: {}, body: BUNDLE }));
    const first = new AgentPosture({ log, agent: good.access });
    await first.onNetworkMap(mapWith({ version: VERSION }));
    const bad = agent(async () => ({ status: 200, headers: {}, body: Buffer.from('not a bundle') }));
    const p = new AgentPosture({ log, agent: bad.access, initial: first.evaluator, retryMs: 60_000 });
    await p.onNetworkMap(mapWith({ version: 'f'.repeat(64), quarantined: true, reasons: ['forbidden processes are running: telnetd'] }));
    expect(p.evaluator?.version).toBe(VERSION);
    expect(p.status()).toMatchObject({ fetchError: expect.stringContaining('neither a gzip'), quarantinedByController: true });
    p.stop();
    first.stop();
  });
});
