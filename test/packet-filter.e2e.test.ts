/**
 * PacketFilter on real nftables: two namespaces joined by a veth pair, the filter on B's end.
 * Checks that allowed flows connect, others time out, replies to B's own connections pass, an
 * unchanged map is not re-applied, a null filter removes the table, and bad input keeps the old one.
 */
import pino from 'pino';
import { PacketFilter } from '../core/src/agent/packet-filter';
import type { NetworkMapData } from '../core/src/netmap/types';
import { run, tryRun } from '../core/src/sys/run';
import { connectFrom, listenIn, type Listener } from './support/tcp-probe';

const tag = String(process.pid % 100000);
const nsA = `trpf-a-${tag}`;
const nsB = `trpf-b-${tag}`;
const vA = `trpfa${tag}`;
const vB = `trpfb${tag}`;
const ipA = '10.213.0.1';
const ipB = '10.213.0.2';
const log = pino({ level: 'silent' });

function mapWith(packetFilter: NetworkMapData['packetFilter']): NetworkMapData {
  const node = (id: string, ip: string) => ({
    id,
    name: id,
    wgKey: '',
    addresses: { ipv4: `${ip}/32`, ipv6: 'fd00::1/128' },
    endpoints: [],
    allowedIps: [],
    tags: [],
    user: null,
    online: true,
    lastSeen: null,
  });
  return {
    version: 1,
    epoch: 'e',
    self: { ...node('b', ipB), expiresAt: null },
    peers: [node('a', ipA)],
    packetFilter,
    routes: [],
    extensions: {},
    overlay: { ipv4Cidr: '10.213.0.0/24', ipv6Prefix: 'fd00::/64' },
  };
}

const nftInB = async (script: string) => {
  await run('nft', ['-f', '-'], { input: script, netns: nsB });
};
const tableInB = async () => (await tryRun('nft', ['list', 'table', 'inet', 'trellis'], { netns: nsB })) !== null;

describe('PacketFilter on nftables', () => {
  let listener: Listener | null = null;
  let listenerA: Listener | null = null;
  const filter = new PacketFilter({ iface: vB, probePort: 51999, log, nft: nftInB });

  beforeAll(async () => {
    await run('ip', ['netns', 'add', nsA]);
    await run('ip', ['netns', 'add', nsB]);
    await run('ip', ['link', 'add', vA, 'netns', nsA, 'type', 'veth', 'peer', 'name', vB, 'netns', nsB]);
    await run('ip', ['-n', nsA, 'addr', 'add', `${ipA}/24`, 'dev', vA]);
    await run('ip', ['-n', nsB, 'addr', 'add', `${ipB}/24`, 'dev', vB]);
    for (const [ns, dev] of [[nsA, vA], [nsB, vB]]) {
      await run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    listener = await listenIn(nsB, [443, 22]);
    listenerA = await listenIn(nsA, [8080]);
  }, 30_000);

  afterAll(async () => {
    listener?.stop();
    listenerA?.stop();
    await tryRun('ip', ['netns', 'del', nsA]);
    await tryRun('ip', ['netns', 'del', nsB]);
  });

  it('accepts everything without a filter', async () => {
    expect(await filter.apply(mapWith(null))).toBe('unchanged');
    expect(await tableInB()).toBe(false);
    expect(await connectFrom(nsA, ipB, 22)).toBe('ok');
  });

  it('enforces a filter: A→B tcp/443 only; replies to B’s own connections pass', async () => {
    const m = mapWith([{ srcIps: [ipA], proto: 'tcp', dstPorts: [[443, 443]] }]);
    expect(await filter.apply(m)).toBe('applied');
    expect(await tableInB()).toBe(true);
    expect(await connectFrom(nsA, ipB, 443)).toBe('ok');
    expect(await connectFrom(nsA, ipB, 22, 1000)).toBe('timeout');
    expect(await connectFrom(nsB, ipA, 8080)).toBe('ok');
    expect(await filter.apply(m)).toBe('unchanged');
  });

  it('an empty filter denies all inbound mesh traffic', async () => {
    expect(await filter.apply(mapWith([]))).toBe('applied');
    expect(await connectFrom(nsA, ipB, 443, 1000)).toBe('timeout');
  });

  it('a malformed filter is refused and the previous one stays', async () => {
    const before = filter.ruleset;
    await expect(filter.apply(mapWith([{ srcIps: ['bogus'], proto: 'tcp', dstPorts: [] }]))).rejects.toThrow(/srcIps "bogus"/);
    expect(filter.ruleset).toBe(before);
    expect(await connectFrom(nsA, ipB, 443, 1000)).toBe('timeout');
  });

  it('a null filter removes the table, and stop is idempotent', async () => {
    expect(await filter.apply(mapWith(null))).toBe('removed');
    expect(await tableInB()).toBe(false);
    expect(await connectFrom(nsA, ipB, 22)).toBe('ok');
    await filter.apply(mapWith([]));
    await filter.stop();
    await filter.stop();
    expect(await tableInB()).toBe(false);
  });
});
