import { parseCommandArgs } from './parse-command-args';
import { UsageError } from './usage-error';

describe('parseCommandArgs', () => {
  const options = { name: { type: 'string' }, json: { type: 'boolean' } } as const;

  it('parses known flags', () => {
    expect(parseCommandArgs('x', { args: ['--name', 'a', '--json'], options }).values).toEqual({ name: 'a', json: true });
  });

  it.each([
    [['--nope'], 'unknown flag --nope'],
    [['--name'], 'flag --name needs a value'],
    [['--json=yes'], 'flag --json takes no value'],
    [['stray'], 'unexpected argument "stray"'],
  ])('%j fails with "%s"', (args, message) => {
    let err: unknown;
    try {
      parseCommandArgs('x', { args, options });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).message).toBe(message);
    expect((err as UsageError).command).toBe('x');
  });
});
