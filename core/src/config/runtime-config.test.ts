import { parseRuntimeConfig } from './runtime-config';

describe('parseRuntimeConfig', () => {
  it('accepts names and objects, YAML or JSON', () => {
    const yaml = 'controller:\n  plugins:\n    - facts-host\nagent:\n  plugins:\n    - name: facts-host\n      config: { includeHostname: false }\n';
    const cfg = parseRuntimeConfig(yaml, 'trellis.yaml', '/etc/trellis');
    expect(cfg.controller.plugins).toEqual([{ name: 'facts-host', config: {}, enabled: true }]);
    expect(cfg.agent.plugins[0].config).toEqual({ includeHostname: false });
    expect(parseRuntimeConfig('{"agent":{"plugins":[]}}', 'c.json', '/').agent.plugins).toEqual([]);
    expect(parseRuntimeConfig('', 'empty.yaml', '/').agent.plugins).toEqual([]);
  });
  it('names the file and the offending path', () => {
    expect(() => parseRuntimeConfig('agent:\n  plugin: []\n', 'x.yaml', '/')).toThrow('invalid config x.yaml: /agent must NOT have additional properties "plugin"');
    expect(() => parseRuntimeConfig('agent: [', 'y.yaml', '/')).toThrow(/invalid config y.yaml: not valid YAML/);
  });
});
