import { Writable } from 'node:stream';
import pino from 'pino';
import { definePlugin, SkipPlugin, TrellisError, type TrellisPlugin } from '../api';
import { PluginHost, checkPlugins, validatePluginConfig } from './plugin-host';

function captureLog() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)));
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

const plugin = (name: string, extra: Partial<TrellisPlugin> = {}, manifest: Partial<TrellisPlugin['manifest']> = {}) =>
  definePlugin({ manifest: { name, version: '1.0.0', apiRange: '^1.0.0', ...manifest }, ...extra });

describe('checkPlugins', () => {
  it('orders plugins so dependencies come first', () => {
    const order = checkPlugins([plugin('c', {}, { dependsOn: ['b'] }), plugin('b', {}, { dependsOn: ['a'] }), plugin('a')]);
    expect(order.map((p) => p.manifest.name)).toEqual(['a', 'b', 'c']);
  });
  it('refuses duplicate names, foreign API ranges, missing dependencies and cycles', () => {
    expect(() => checkPlugins([plugin('a'), plugin('a')])).toThrow(/loaded twice/);
    expect(() => checkPlugins([plugin('a', {}, { apiRange: '^2.0.0' })])).toThrow(/needs plugin API \^2.0.0/);
    expect(() => checkPlugins([plugin('a', {}, { dependsOn: ['zz'] })])).toThrow(/depends on "zz"/);
    expect(() => checkPlugins([plugin('a', {}, { dependsOn: ['b'] }), plugin('b', {}, { dependsOn: ['a'] })])).toThrow(/cycle: a → b → a/);
  });
  it('refuses a plugin that still defines a removed hook, naming what replaced it', () => {
    const old = { ...plugin('old'), transformNetworkMaps: (maps: unknown[]) => maps } as unknown as TrellisPlugin;
    expect(() => checkPlugins([old])).toThrow(/plugin "old" defines transformNetworkMaps, a hook this core no longer has; use decideAccess .* and mapExtension/);
  });
});

describe('validatePluginConfig', () => {
  const p = plugin('x', {}, {
    configSchema: {
      type: 'object',
      additionalProperties: false,
      properties: { rate: { type: 'integer', minimum: 1, default: 5 } },
    },
  });
  it('applies defaults without mutating the input', () => {
    const input = {};
    expect(validatePluginConfig(p, input)).toEqual({ rate: 5 });
    expect(input).toEqual({});
  });
  it('names the plugin and the offending path', () => {
    expect(() => validatePluginConfig(p, { rate: 0 })).toThrow('config of plugin "x" is invalid: /rate must be >= 1');
    expect(() => validatePluginConfig(p, { nope: 1 })).toThrow(/must NOT have additional properties "nope"/);
  });
});

describe('PluginHost', () => {
  it('sets up in dependency order, shuts down in reverse, and validates every config before any setup', async () => {
    const events: string[] = [];
    const mk = (name: string, dependsOn: string[] = []) =>
      plugin(name, { setup: () => void events.push(`setup ${name}`), shutdown: () => void events.push(`shutdown ${name}`) }, { dependsOn });
    const { log } = captureLog();
    const host = new PluginHost('agent', log);
    await host.start([{ plugin: mk('b', ['a']), config: {} }, { plugin: mk('a'), config: {} }], {});
    await host.shutdown();
    expect(events).toEqual(['setup a', 'setup b', 'shutdown b', 'shutdown a']);

    events.length = 0;
    const strict = plugin('s', { setup: () => void events.push('setup s') }, { configSchema: { type: 'object', required: ['url'] } });
    await expect(new PluginHost('agent', log).start([{ plugin: mk('a'), config: {} }, { plugin: strict, config: {} }], {})).rejects.toThrow(
      /config of plugin "s" is invalid/,
    );
    expect(events).toEqual([]);
  });

  it('treats SkipPlugin as "not here" and a failing setup as that plugin disabled', async () => {
    const { log, lines } = captureLog();
    const host = new PluginHost('agent', log);
    await host.start(
      [
        { plugin: plugin('skip', { setup: () => { throw new SkipPlugin('no htb'); } }), config: {} },
        { plugin: plugin('boom', { setup: () => { throw new TrellisError('TRELLIS_ERR_X', 'bad'); } }), config: {} },
        { plugin: plugin('needs-boom', {}, { dependsOn: ['boom'] }), config: {} },
        { plugin: plugin('ok'), config: {} },
      ],
      {},
    );
    expect(host.names()).toEqual(['ok']);
    expect(lines.find((l) => l.plugin === 'skip')?.reason).toBe('no htb');
    expect(lines.find((l) => l.plugin === 'boom')).toMatchObject({ hook: 'setup', code: 'TRELLIS_ERR_X' });
  });

  it('ignores plugins meant for the other side', async () => {
    const { log } = captureLog();
    const host = new PluginHost('controller', log);
    await host.start([{ plugin: plugin('agent-only', {}, { sides: ['agent'] }), config: {} }], {});
    expect(host.names()).toEqual([]);
  });

  it('runs hooks by kind and contains every failure with plugin and hook names', async () => {
    const { log, lines } = captureLog();
    const host = new PluginHost('agent', log);
    await host.start(
      [
        { plugin: plugin('p1', { evaluatePosture: () => null, collectFacts: () => ({ a: 1 }), transformWgConfig: (c) => ({ ...c, listenPort: c.listenPort + 1 }) }), config: {} },
        {
          plugin: plugin('p2', {
            evaluatePosture: () => ({ compliant: false, reasons: ['disk not encrypted'] }),
            collectFacts: () => {
              throw new Error('cannot read /proc');
            },
            transformWgConfig: () => {
              throw new Error('bad transform');
            },
          }),
          config: {},
        },
        { plugin: plugin('p3', { evaluatePosture: () => ({ compliant: true, reasons: [] }), transformWgConfig: (c) => ({ ...c, listenPort: c.listenPort * 10 }) }), config: {} },
      ],
      {},
    );
    expect(await host.runFirst('evaluatePosture', {})).toEqual({ compliant: false, reasons: ['disk not encrypted'] });
    expect(await host.runParallel('collectFacts')).toEqual([{ a: 1 }]);
    const cfg = await host.runSequential('transformWgConfig', { privateKey: 'k', listenPort: 1, peers: [] }, {} as never);
    expect(cfg.listenPort).toBe(20);
    expect(lines.filter((l) => l.msg === 'plugin hook failed').map((l) => [l.plugin, l.hook])).toEqual([
      ['p2', 'collectFacts'],
      ['p2', 'transformWgConfig'],
    ]);
    expect(host.failures.get('p2')).toBe(2);
    expect(host.has('onPeerStats')).toBe(false);
  });

  it('counts a hook that hangs as failed instead of waiting for it', async () => {
    const { log, lines } = captureLog();
    const host = new PluginHost('agent', log, 50);
    await host.start([{ plugin: plugin('slow', { onNetworkMap: () => new Promise<void>(() => {}) }), config: {} }], {});
    await host.runParallel('onNetworkMap', {} as never);
    expect(lines.find((l) => l.msg === 'plugin hook failed')).toMatchObject({ plugin: 'slow', code: 'TRELLIS_ERR_PLUGIN_HOOK_TIMEOUT' });
  });

  it('decideAccess: the first plugin with a decision wins; a failing one is skipped', async () => {
    const { log, lines } = captureLog();
    const host = new PluginHost('controller', log);
    const decision = { version: 'v', grants: [], nodes: new Map() };
    await host.start(
      [
        { plugin: plugin('none', { decideAccess: () => null }), config: {} },
        { plugin: plugin('broken', { decideAccess: () => { throw new Error('no policy'); } }), config: {} },
        { plugin: plugin('policy', { decideAccess: async () => decision }), config: {} },
        { plugin: plugin('later', { decideAccess: () => ({ ...decision, version: 'other' }) }), config: {} },
      ],
      {},
    );
    expect(await host.runFirst('decideAccess', { nodes: [], scope: 'mesh' })).toBe(decision);
    expect(lines.filter((l) => l.msg === 'plugin hook failed').map((l) => [l.plugin, l.hook, l.kind])).toEqual([['broken', 'decideAccess', 'first']]);
  });

  it('mapExtension: one record per node keyed by plugin, no key for null, plain results without a timer, failures logged once per batch', async () => {
    const { log, lines } = captureLog();
    const host = new PluginHost('controller', log, 50);
    const node = (id: string) => ({ id, name: id, user: null, groups: [], tags: [], addresses: { ipv4: '100.64.0.1', ipv6: 'fd7a::1' }, posture: null, approved: true });
    await host.start(
      [
        { plugin: plugin('shape', { mapExtension: (n) => (n.id === 'b' ? null : { profile: n.id }) }), config: {} },
        { plugin: plugin('slow', { mapExtension: async (n) => ({ later: n.id }) }), config: {} },
        { plugin: plugin('flaky', { mapExtension: (n) => { if (n.id !== 'a') throw new Error(`no ${n.id}`); return 1; } }), config: {} },
      ],
      {},
    );
    const timers = jest.spyOn(global, 'setTimeout');
    const plain = await host.runParallelEach('mapExtension', [[node('a')]]);
    expect(plain).toEqual([{ shape: { profile: 'a' }, slow: { later: 'a' }, flaky: 1 }]);
    // Only the plugin that answers with a promise costs a timer (its timeout).
    expect(timers).toHaveBeenCalledTimes(1);
    timers.mockRestore();
    const out = await host.runParallelEach('mapExtension', [[node('a')], [node('b')], [node('c')]]);
    expect(out).toEqual([{ shape: { profile: 'a' }, slow: { later: 'a' }, flaky: 1 }, { slow: { later: 'b' } }, { shape: { profile: 'c' }, slow: { later: 'c' } }]);
    expect(lines.filter((l) => l.msg === 'plugin hook failed')).toEqual([expect.objectContaining({ plugin: 'flaky', hook: 'mapExtension', calls: 2, err: 'no b' })]);
    expect(host.failures.get('flaky')).toBe(2);
  });
});
