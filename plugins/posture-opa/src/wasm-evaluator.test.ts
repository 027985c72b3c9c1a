import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PolicyErrorCode } from './errors';
import { compilePolicies } from './opa-cli';
import { loadPolicyBundle, type PolicyBundle } from './policy-bundle';
import { PolicyEvaluator } from './wasm-evaluator';

const POLICIES = resolve(__dirname, '../../../policies');
const DAY_MS = 86_400_000;
const NOW = Date.UTC(2024, 5, 1);
let tmp: string;
let bundle: PolicyBundle;

const config = {
  minOsVersion: { debian: '12', ubuntu: '22.04' },
  minKernelVersion: '6.1',
  minAgentVersion: '0.2.0',
  requireDiskEncryption: true,
  requireFirewall: true,
  requiredProcesses: ['sshd'],
  forbiddenProcesses: ['telnetd'],
  maxKeyAgeDays: 90,
};

const goodFacts = {
  os: { id: 'debian', versionId: '12' },
  kernel: { release: '6.1.0-18-amd64' },
  agent: { version: '0.2.0' },
  disk: { rootEncrypted: true, devices: [] },
  firewall: { enabled: true, ruleCount: 4, inputPolicy: 'drop' },
  processes: ['sshd'],
  wgKey: { createdAt: NOW - 80 * DAY_MS },
  collectedAt: NOW,
};

interface Decision {
  compliant: boolean;
  reasons: string[];
  checks: Record<string, boolean>;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'trellis-eval-'));
  const { bundlePath } = await compilePolicies(POLICIES, { outFile: join(tmp, 'bundle.tgz') });
  bundle = await loadPolicyBundle(bundlePath);
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('PolicyEvaluator', () => {
  it('evaluates posture: versions compared after normalizing kernels, time.now_ns from the host clock', async () => {
    let now = NOW;
    const ev = await PolicyEvaluator.fromBundle(bundle, { clock: () => now, data: { trellis: { posture_config: config } } });
    expect(ev.version).toBe(bundle.version);
    const ok = ev.evaluate<Decision>('trellis/posture/decision', goodFacts)!;
    expect(ok).toEqual({
      compliant: true,
      reasons: [],
      checks: {
        os_version: true, kernel_version: true, agent_version: true, disk_encryption: true,
        firewall: true, required_processes: true, forbidden_processes: true, wg_key_age: true,
      },
    });
    const old = ev.evaluate<Decision>('trellis/posture/decision', { ...goodFacts, kernel: { release: '5.10.0-28-amd64' }, os: { id: 'debian', versionId: 11 } })!;
    expect(old.compliant).toBe(false);
    expect(old.reasons).toEqual(['debian 11 is older than the required 12', 'kernel 5.10.0-28-amd64 is older than the required 6.1']);
    // Twenty days later the same key is too old: the clock is the host's, injected.
    now += 20 * DAY_MS;
    const later = ev.evaluate<Decision>('trellis/posture/decision', goodFacts)!;
    expect(later.reasons).toEqual(['WireGuard key is 100 days old; the maximum is 90 days']);
    expect(later.checks.wg_key_age).toBe(false);
    expect(ev.evaluate('trellis/posture/compliant', goodFacts)).toBe(false);
  });

  it('uses the bundle data.json until setData replaces it', async () => {
    const ev = await PolicyEvaluator.fromBundle(bundle, { clock: () => NOW });
    const plain = { ...goodFacts, disk: { rootEncrypted: false }, firewall: { enabled: false }, processes: [] };
    expect(ev.evaluate<Decision>('trellis/posture/decision', plain)!.compliant).toBe(true);
    ev.setData({ trellis: { posture_config: config } });
    expect(ev.evaluate<Decision>('trellis/posture/decision', plain)!.reasons).toEqual([
      'root filesystem is not on an encrypted (dm-crypt/LUKS) device',
      'host firewall is off (no nftables ruleset is loaded)',
      'required processes are not running: sshd',
    ]);
  });

  it('refuses bad data and keeps the previous data', async () => {
    const ev = await PolicyEvaluator.fromBundle(bundle, { clock: () => NOW, data: { trellis: { posture_config: config } } });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => ev.setData(cyclic)).toThrow(expect.objectContaining({ code: PolicyErrorCode.DATA_INVALID }));
    expect(() => ev.setData([] as unknown as Record<string, unknown>)).toThrow(/data must be a JSON object; the previous data stays in force/);
    expect(ev.currentData).toEqual({ trellis: { posture_config: config } });
    expect(ev.evaluate<Decision>('trellis/posture/decision', { ...goodFacts, processes: [] })!.reasons).toEqual([
      'required processes are not running: sshd',
    ]);
  });

  it('answers access decisions and netmaps', async () => {
    const ev = await PolicyEvaluator.fromBundle(bundle);
    const acls = {
      groups: { eng: ['alice'] },
      rules: [{ name: 'ssh', src: ['group:eng'], dst: ['tag:server'], proto: 'tcp', ports: ['22', '8000-8080'] }],
    };
    const alice = { node: 'laptop', user: 'alice', tags: [], ip: '100.64.0.1' };
    const web = { node: 'web', tags: ['tag:server'], ip: '100.64.0.2', subnets: [] };
    expect(ev.evaluate('trellis/access/decision', { src: alice, dst: web, proto: 'tcp', port: 8080, acls })).toEqual({
      allow: true,
      reasons: ['laptop (100.64.0.1) -> web (100.64.0.2) tcp/8080 allowed by rule ssh'],
    });
    expect(ev.evaluate('trellis/access/allow', { src: alice, dst: web, proto: 'tcp', port: 8081, acls })).toBe(false);
    // The shipped data allows everything (default-allow-all), so a fresh lab works; no rules means default deny.
    expect(ev.evaluate('trellis/access/allow', { src: alice, dst: web, proto: 'tcp', port: 22 })).toBe(true);
    expect(ev.evaluate('trellis/access/allow', { src: alice, dst: web, proto: 'tcp', port: 22, acls: { rules: [] } })).toBe(false);
    const nodes = [
      { id: 'a', name: 'laptop', user: 'alice', tags: [], addresses: { ipv4: '100.64.0.1', ipv6: 'fd7a::1' } },
      { id: 'w', name: 'web', user: null, tags: ['tag:server'], addresses: { ipv4: '100.64.0.2', ipv6: 'fd7a::2' } },
      { id: 'x', name: 'other', user: 'mallory', tags: [], addresses: { ipv4: '100.64.0.3', ipv6: 'fd7a::3' } },
    ];
    expect(ev.evaluate('trellis/access/netmap', { nodes, self: 'w', acls })).toEqual({
      node: 'w',
      quarantined: false,
      peers: ['a'],
      packetFilter: [{ srcIps: ['100.64.0.1', 'fd7a::1'], dstIps: ['100.64.0.2', 'fd7a::2'], proto: 'tcp', dstPorts: [[22, 22], [8000, 8080]] }],
    });
    expect(ev.evaluate('trellis/access/netmap', { nodes, self: 'nobody', acls })).toBeUndefined();
    expect(ev.evaluate('trellis/access/errors', { acls: { rules: [{ src: ['*'], dst: ['*'], ports: ['99999'] }] } })).toEqual([
      'rule #1: port "99999" is not a port, a range like 1000-2000, or *',
    ]);
  });

  it('builds every node\'s map of a 300-node tailnet in one warm evaluation', async () => {
    const ev = await PolicyEvaluator.fromBundle(bundle);
    const nodes = Array.from({ length: 300 }, (_, i) => ({
      id: `n${i}`,
      name: `host-${i}`,
      user: ['alice', 'bob', 'carol'][i % 3],
      tags: i % 10 === 0 ? ['tag:server'] : [],
      addresses: { ipv4: `100.64.${i >> 8}.${i & 255}`, ipv6: `fd7a::${i}` },
    }));
    const acls = { groups: { eng: ['alice'] }, rules: [{ src: ['group:eng'], dst: ['tag:server'], proto: 'tcp', ports: ['22'] }] };
    // Not timed: policy evaluation cost is measured by bench/policy.js (policy-eval-*, policy-rebuild-*).
    const maps = ev.evaluate<Record<string, { peers: string[]; packetFilter: unknown[] }>>('trellis/access/netmaps', { nodes, acls })!;
    expect(Object.keys(maps)).toHaveLength(300);
    expect(maps.n10!.peers).toHaveLength(100); // every alice node reaches server n10 (bob's)
    expect(maps.n0!.peers).toHaveLength(119); // alice's server n0: 99 alice nodes + 29 servers, 9 both
    expect(maps.n3!.peers).toHaveLength(30); // alice's n3 reaches the 30 servers
    expect(maps.n1!.peers).toEqual([]);
  });

  it('names the entrypoints it has when asked for another', async () => {
    const ev = await PolicyEvaluator.fromBundle(bundle);
    expect(ev.entrypoints).toContain('trellis/posture/decision');
    expect(() => ev.evaluate('trellis/nope', {})).toThrow(
      expect.objectContaining({ code: PolicyErrorCode.ENTRYPOINT_UNKNOWN, message: expect.stringContaining('trellis/access/allow') }),
    );
  });

  it('refuses a wasm module that needs a builtin the host does not provide', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trellis-eval-bi-'));
    try {
      writeFileSync(join(dir, 'p.rego'), 'package t\n\ny := opa.runtime()\n');
      const { bundlePath } = await compilePolicies(dir, { entrypoints: ['t/y'], outFile: join(dir, 'b.tar.gz') });
      const ev = await PolicyEvaluator.fromFile(bundlePath);
      expect(() => ev.evaluate('t/y', {})).toThrow(expect.objectContaining({ code: PolicyErrorCode.EVAL_FAILED, message: expect.stringContaining('opa.runtime') }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
