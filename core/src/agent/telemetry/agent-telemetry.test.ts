import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { noHooks } from '../../plugins/hook-runner';
import type { TelemetryRequest } from '../../wire';
import { AgentTelemetry, DEFAULT_TELEMETRY_OPTIONS } from './agent-telemetry';

describe('AgentTelemetry: relay samples', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'trellis-agent-tel-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function telemetry(relay: () => Promise<unknown>) {
    const posted: TelemetryRequest[] = [];
    const t = new AgentTelemetry({
      stateDir: dir,
      nodeName: () => 'r1',
      peers: () => ({ nameById: new Map(), nameByKey: new Map() }),
      wgStats: async () => [],
      relayStats: relay as never,
      post: async (b) => {
        posted.push(b);
        return { duplicate: false, accepted: { probes: b.probes.length, tunnels: b.tunnels.length, plugins: {} } };
      },
      hooks: noHooks,
      log: pino({ level: 'silent' }),
      options: DEFAULT_TELEMETRY_OPTIONS,
      clock: () => 1_700_000_000_000,
    });
    return { t, posted };
  }

  it("samples the node's relay forwarder with the tunnels and sends it in the next batch", async () => {
    const sample = { port: 3479, forwardedPackets: 10, forwardedBytes: 1000, droppedPackets: 2, droppedNotAllowed: 1, nodes: 2, sessions: 2 };
    const { t, posted } = telemetry(async () => sample);
    await t.sampleTunnels();
    await t.flush();
    expect(posted).toHaveLength(1);
    expect(posted[0]!.relays).toEqual([{ ts: 1_700_000_000_000, src: 'r1', ...sample }]);
    await t.stop();
  });

  it('sends no relay rows from a node that runs no relay, and a failing read costs nothing else', async () => {
    const none = telemetry(async () => null);
    await none.t.sampleTunnels();
    await none.t.flush();
    expect(none.posted).toEqual([]);
    const failing = telemetry(async () => {
      throw new Error('relay control socket gone');
    });
    await failing.t.sampleTunnels();
    await failing.t.flush();
    expect(failing.posted).toEqual([]);
  });
});
