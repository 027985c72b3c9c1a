/**
 * Access policy enforced on the devices: a 3-node lab (A=n1, B=n2, C=n3) with a policy that
 * allows A→B on tcp/443 only (test/fixtures/acl-a-to-b-443). Real TCP over the overlay: A→B:443
 * connects; A→B:22, B→A and C→B do not. B's agent holds the `inet trellis` nft table.
 */
import { resolve } from 'node:path';
import type { AgentStatus } from '../core/src/wire';
import { Lab } from '../core/src/lab/lab';
import { pushPolicy } from './support/policy';
import { connectFrom, listenIn, type Listener } from './support/tcp-probe';
import { waitFor } from './support/wait';

const FIXTURE = resolve(__dirname, 'fixtures', 'acl-a-to-b-443');
const CONFIG = resolve(__dirname, 'fixtures', 'posture-lab.yaml');
const policyOf = (s: AgentStatus) => (s.extensions['posture-opa'] as { policyVersion?: string } | undefined)?.policyVersion ?? null;

describe('ACL enforcement on the overlay', () => {
  let lab: Lab | null = null;
  const listeners: Listener[] = [];
  const ip = (n: string) => lab!.node(n).addresses!.ipv4.split('/')[0];
  const ns = (n: string) => lab!.node(n).namespace;

  beforeAll(async () => {
    lab = await Lab.up({ nodes: 3, configFile: CONFIG, readyTimeoutMs: 60_000 });
    listeners.push(await listenIn(ns('n2'), [443, 22]));
    listeners.push(await listenIn(ns('n1'), [443, 22]));
    const version = await pushPolicy(lab, FIXTURE);
    // The policy is in force on B once B's map names it and B's filter admits A on 443.
    await waitFor('B to run the pushed policy', async () => policyOf(await lab!.status('n2')) === version, 20_000, 100);
  }, 85_000);

  afterAll(async () => {
    for (const l of listeners) l.stop();
    await lab?.down();
  }, 30_000);

  it('B holds the trellis nft table with a rule for A on 443', async () => {
    const { value: table } = await waitFor(
      'the trellis table on B',
      async () => {
        const r = await lab!.exec('n2', 'nft', ['list', 'table', 'inet', 'trellis']);
        return r.code === 0 && r.stdout.includes('tcp dport 443') ? r.stdout : null;
      },
      10_000,
      100,
    );
    expect(table).toContain(`ip saddr ${ip('n1')} `);
    expect(table).toMatch(/counter packets \d+ bytes \d+ drop/);
  }, 15_000);

  it('A→B:443 connects', async () => {
    const { ms } = await waitFor('A→B:443', async () => (await connectFrom(ns('n1'), ip('n2'), 443, 1000)) === 'ok', 10_000, 0);
    expect(ms).toBeLessThan(10_000);
  }, 15_000);

  it('A→B:22, B→A:443 and C→B:443 are refused or time out', async () => {
    const [ab22, ba, cb] = await Promise.all([
      connectFrom(ns('n1'), ip('n2'), 22, 1500),
      connectFrom(ns('n2'), ip('n1'), 443, 1500),
      connectFrom(ns('n3'), ip('n2'), 443, 1500),
    ]);
    expect({ ab22, ba, cb }).toEqual({ ab22: expect.not.stringMatching(/^ok$/), ba: expect.not.stringMatching(/^ok$/), cb: expect.not.stringMatching(/^ok$/) });
    // A connection that was accepted keeps working: A→B:443 again.
    expect(await connectFrom(ns('n1'), ip('n2'), 443, 1500)).toBe('ok');
  }, 15_000);
});
