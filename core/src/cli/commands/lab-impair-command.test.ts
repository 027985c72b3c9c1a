import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { runCli } from '../run-cli';
import { captureIO } from '../testing/capture-io';
import { describeImpairment, impairedPair, parsePercent } from './lab-impair-command';
import { labTopologyFlags, parseAssignments } from './lab-up-command';

/** No lab runs under this dir, so anything that got past the flags would fail on Lab.load instead. */
const env = { TRELLIS_LAB_DIR: join(tmpdir(), 'trellis-no-lab-here') };

async function cli(argv: string[]) {
  const io = captureIO(env);
  const code = await runCli(argv, io);
  return { code, out: io.out, err: io.err };
}

describe('trellis lab impair: flags are checked before the lab is touched', () => {
  it.each([
    [['n1', 'n1', '--delay', '40ms'], 'name two different nodes (got n1 twice)'],
    [['n1', 'n2'], 'give --delay, --jitter and/or --loss (or --clear)'],
    [['n1'], 'name the two nodes whose path to impair'],
    [['n1', 'n2', 'n3', '--delay', '1ms'], 'name two nodes, not 3'],
    [['n1', 'n2', '--delay', 'soon'], '--delay "soon" is not a duration'],
    [['n1', 'n2', '--delay', '11s'], '--delay'],
    [['n1', 'n2', '--loss', '120%'], '--loss "120%" is not a percentage from 0 to 100'],
    [['n1', 'n2', '--loss', 'lots'], '--loss "lots" is not a percentage'],
    [['n1', 'n2', '--delay', '10ms', '--jitter', '20ms'], '--jitter 20ms is more than --delay 10ms'],
    [['n1', 'n2', '--jitter', '5ms'], '--jitter needs --delay'],
    [['n1', 'n2', '--clear', '--delay', '5ms'], '--clear takes no --delay'],
    [['n1', '--clear'], '--clear needs both nodes of the pair'],
    [['n1', 'n2', '--clear', '--one-way'], '--clear takes no --delay, --jitter, --loss or --one-way'],
  ])('%j: %s', async (argv, message) => {
    const r = await cli(['lab', 'impair', ...argv]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  });

  it('good flags reach the lab, which says there is none', async () => {
    const r = await cli(['lab', 'impair', 'n1', 'n2', '--delay', '40ms', '--jitter', '5ms', '--loss', '5%']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('no lab is running');
  });

  it('percentages and the description', () => {
    expect(parsePercent('--loss', '5%', 'x')).toBe(5);
    expect(parsePercent('--loss', '0.5', 'x')).toBe(0.5);
    expect(describeImpairment({ delayMs: 40, jitterMs: 5, lossPct: 5 })).toBe('+40 ms ±5 ms round trip, 5 % loss');
    expect(describeImpairment({ delayMs: 0, jitterMs: 0, lossPct: 20 })).toBe('20 % loss');
    expect(describeImpairment({ delayMs: 0, jitterMs: 0, lossPct: 100, oneWay: true })).toBe('100 % loss one way');
    expect(describeImpairment({ delayMs: 40, jitterMs: 0, lossPct: 20, oneWay: true })).toBe('+40 ms one way, 20 % loss');
    expect(impairedPair({ a: 'n1', b: 'n2', oneWay: true })).toBe('n1→n2');
    expect(impairedPair({ a: 'n1', b: 'n2' })).toBe('n1–n2');
  });
});

describe('trellis lab up: --nat, --relays, --uplinks', () => {
  it('reads assignments and lists', () => {
    expect(labTopologyFlags({ nat: ['n1=easy,n2=hard'], relays: ['n3', 'n5,n6'], uplinks: ['n4=2'] }, 'lab up')).toEqual({
      nat: { n1: 'easy', n2: 'hard' },
      relays: ['n3', 'n5', 'n6'],
      uplinks: { n4: 2 },
    });
  });

  it.each([
    [['--nat', 'n1'], '--nat "n1" is not <node>=<value>, e.g. n1=easy'],
    [['--nat', 'n1=easy,n1=hard'], '--nat gives n1 twice'],
    [['--nat', 'n1=symmetric'], '--nat n1=symmetric: the NAT type is easy or hard'],
    [['--uplinks', 'n4=9'], '--uplinks n4=9: give 1 to 4 links'],
    [['--uplinks', 'n4=two'], '--uplinks n4=two: give 1 to 4 links'],
  ])('%j is a usage error: %s', async (argv, message) => {
    const r = await cli(['lab', 'up', ...argv]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  });

  it('parseAssignments keeps order-free pairs', () => {
    expect(parseAssignments('--nat', ['n2=hard', 'n1=easy'], 'x')).toEqual({ n1: 'easy', n2: 'hard' });
  });
});
