import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { runCli } from '../run-cli';
import { captureIO } from '../testing/capture-io';

/** No lab runs under this dir, so anything that got past the flags would fail on Lab.load instead. */
const env = { TRELLIS_LAB_DIR: join(tmpdir(), 'trellis-no-lab-here') };

async function cli(argv: string[]) {
  const io = captureIO(env);
  const code = await runCli(argv, io);
  return { code, out: io.out, err: io.err };
}

describe('trellis lab link and lab roam: arguments are checked before the lab is touched', () => {
  it.each([
    [['link', 'n1'], 'give a node, a link number and up or down'],
    [['link', 'n1', 'one', 'down'], 'link "one" is not a link number'],
    [['link', 'n1', '0', 'down'], 'link "0" is not a link number'],
    [['link', 'n1', '1', 'sideways'], '"sideways" is neither up nor down'],
    [['roam'], 'name one node, e.g. trellis lab roam n1 (got 0)'],
    [['roam', 'n1', 'n2'], 'name one node, e.g. trellis lab roam n1 (got 2)'],
  ])('%j: %s', async (argv, message) => {
    const r = await cli(['lab', ...argv]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  });

  it.each([[['link', 'n1', '1', 'down']], [['roam', 'n1']]])('%j with good arguments reaches the lab, which says there is none', async (argv) => {
    const r = await cli(['lab', ...argv]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('no lab is running');
  });
});
