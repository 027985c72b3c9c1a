import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentPathsStatus, AgentStatus } from '../../wire';
import { runCli } from '../run-cli';
import { FIXED_STATUS } from '../testing/agent-status-fixture';
import { captureIO } from '../testing/capture-io';

const PATHS: AgentPathsStatus = {
  available: true,
  reason: null,
  reflexive: [],
  drops: null,
  relays: [],
  peers: ['n2', 'n3'].map((peer) => ({
    peerId: `id-${peer}`,
    peer,
    role: 'decides' as const,
    active: 'direct:198.18.0.12:51820',
    label: 'direct',
    endpoint: '198.18.0.12:51820',
    reason: 'first live path',
    since: null,
    switches: 1,
    lastSwitch: null,
    candidates: [],
  })),
};

let tmp: string;
let socket: string;
let server: ReturnType<typeof createServer>;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'trellis-paths-cmd-'));
  socket = join(tmp, 'agent.sock');
  const status: AgentStatus = { ...FIXED_STATUS, paths: PATHS };
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(req.url === '/v1/status' ? JSON.stringify(status) : '{}');
  });
  await new Promise<void>((r) => server.listen(socket, () => r()));
});
afterAll(() => {
  server.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function cli(argv: string[]) {
  const io = captureIO({ TRELLIS_LAB_DIR: join(tmp, 'no-lab'), TRELLIS_CONFIG_DIR: join(tmp, 'no-etc') });
  const code = await runCli(argv, io);
  return { code, out: io.out, err: io.err };
}

describe('trellis paths', () => {
  it('prints every peer, one with --peer, and JSON with --json', async () => {
    const all = await cli(['paths', '--socket', socket]);
    expect(all.code).toBe(0);
    expect(all.out).toContain('n2: direct (direct:198.18.0.12:51820); this node decides, 1 switch\n');
    expect(all.out).toContain('n3: direct');
    const one = await cli(['paths', '--socket', socket, '--peer', 'n3']);
    expect(one.out).not.toContain('n2: direct');
    const json = await cli(['paths', '--socket', socket, '--peer', 'n2', '--json']);
    expect(JSON.parse(json.out).peers.map((p: { peer: string }) => p.peer)).toEqual(['n2']);
  });

  it('refuses a peer the agent does not have, naming its peers', async () => {
    const r = await cli(['paths', '--socket', socket, '--peer', 'n9']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('trellis: --peer "n9" is not a peer of n1 (peers: n2, n3); see trellis paths --help\n');
  });
});
