import { createLogger } from '../log/logger';
import type { ExitUseRequest } from '../wire';
import { ControllerRequestError } from './controller-client';
import { ExitReporter } from './exit-reporter';

describe('ExitReporter', () => {
  let state: ExitUseRequest | null;
  let posted: ExitUseRequest[];
  let fail: Error | null;
  let reporter: ExitReporter;
  beforeEach(() => {
    state = null;
    posted = [];
    fail = null;
    reporter = new ExitReporter({
      state: () => state,
      post: async (b) => {
        if (fail) throw fail;
        posted.push(b);
      },
      log: createLogger('test', 'silent'),
      idle: () => false,
      retryMs: 10,
    });
  });
  afterEach(() => reporter.stop());

  const inUse = (n: string | null, problem: string | null = null): ExitUseRequest => ({ preferred: 'n3', fallback: 'n4', inUse: n, problem, switches: n === 'n3' ? 0 : 1 });

  it('says nothing before the first map chose, then posts each change once', async () => {
    await reporter.report();
    expect(posted).toEqual([]);
    state = inUse('n3');
    await reporter.report();
    await reporter.report();
    expect(posted).toEqual([inUse('n3')]);
    state = inUse('n4', 'exit node n3 is offline');
    await reporter.report();
    expect(posted).toEqual([inUse('n3'), inUse('n4', 'exit node n3 is offline')]);
  });

  it('posts again after a reconnect (forget), and retries a failed post', async () => {
    state = inUse('n3');
    await reporter.report();
    reporter.forget();
    await reporter.report();
    expect(posted).toHaveLength(2);
    state = inUse('n4');
    fail = new Error('connect ECONNREFUSED');
    await reporter.report();
    expect(posted).toHaveLength(2);
    fail = null;
    await new Promise((r) => setTimeout(r, 50));
    expect(posted).toEqual([inUse('n3'), inUse('n3'), inUse('n4')]);
  });

  it('stops asking a controller that does not know the route (404)', async () => {
    state = inUse('n3');
    fail = new ControllerRequestError('TRELLIS_ERR_NOT_FOUND', 'route POST:/v1/node/exit not found', 404);
    await reporter.report();
    fail = null;
    state = inUse('n4');
    await reporter.report();
    await new Promise((r) => setTimeout(r, 30));
    expect(posted).toEqual([]);
  });
});
