/**
 * The import rules of Trellis, checked by core/src/dependency-rules.test.ts (part of `npm test`) and
 * by hand with `npx depcruise core/src plugins`.
 *
 * core/src is layered: a folder may import its own layer's files and the layers below it, never a
 * layer above, and never a sibling folder of its own layer. Plugins reach core only through
 * @trellis/core/api. Nothing may import in a circle, type-only imports included.
 */

/** core/src layers, bottom first. Each entry is one layer: the folders (or top-level files) in it. */
const LAYERS = [
  ['trellis-error.ts'],
  ['errors.ts'],
  ['json', 'net', 'text'],
  ['log', 'sys', 'auth', 'config', 'stun', 'disco'],
  ['paths'],
  ['netmap', 'wg'],
  ['api'],
  ['wire'],
  ['metrics', 'plugins', 'store', 'client'],
  ['controller', 'agent'],
  ['lab'],
  ['cli'],
  ['index.ts'],
];

const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A path regex for one layer member: a folder (core/src/x/...) or a top-level file (core/src/x.ts). */
const member = (m) => (m.endsWith('.ts') ? `core/src/${esc(m)}$` : `core/src/${esc(m)}/`);
const anyOf = (ms) => `^(${ms.map(member).join('|')})`;

const layerRules = LAYERS.flatMap((layer, i) => {
  const above = LAYERS.slice(i + 1).flat();
  const rules = [];
  if (above.length > 0) {
    rules.push({
      name: `${layer.map((m) => m.replace(/\.ts$/, '')).join('-')}-imports-upward`,
      comment: `${layer.join(', ')} may not import a layer above it (${above.join(', ')}); move the shared part down instead`,
      severity: 'error',
      from: { path: anyOf(layer) },
      to: { path: anyOf(above) },
    });
  }
  for (const m of layer) {
    const siblings = layer.filter((x) => x !== m);
    if (siblings.length === 0) continue;
    rules.push({
      name: `${m.replace(/\.ts$/, '')}-imports-sibling`,
      comment: `${m} may not import its sibling in the same layer (${siblings.join(', ')}); they stay independent`,
      severity: 'error',
      // A test may drive a sibling for real (a controller test speaking through the agent's client).
      from: { path: `^${member(m)}`, pathNot: '\\.test\\.ts$' },
      to: { path: anyOf(siblings) },
    });
  }
  return rules;
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'modules import one another in a circle; break it by moving the shared part into its own module below both',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-src-layer-unlisted',
      comment: 'every folder of core/src has a place in the layer order (.dependency-cruiser.cjs LAYERS); add this one',
      severity: 'error',
      from: { path: '^core/src/', pathNot: `${anyOf(LAYERS.flat())}|^core/src/[^/]+\\.test\\.ts$` },
      to: {},
    },
    ...layerRules,
    {
      name: 'core-names-plugin',
      comment:
        'core names no plugin: the runtimes load plugins by the names a config gives them, and the lab by deploy/lab/services.yaml; give core a hook or an API type instead',
      severity: 'error',
      from: { path: '^core/' },
      to: { path: '^(plugins/|@trellis/plugin-)' },
    },
    {
      name: 'plugin-imports-core-beyond-api',
      comment: 'a plugin reaches core only through @trellis/core/api; export what it needs there',
      severity: 'error',
      from: { path: '^plugins/[^/]+/src/', pathNot: '\\.test\\.ts$' },
      to: { path: '^(core/|@trellis/core)', pathNot: '^(core/(src|dist)/api/|@trellis/core/api$)' },
    },
    {
      name: 'plugin-test-imports-core-internals',
      comment: 'a plugin test drives core through @trellis/core/api or the @trellis/core runtime entry, not its inner files',
      severity: 'error',
      from: { path: '^plugins/[^/]+/(src/.+\\.test\\.ts$|test-support/)' },
      to: { path: '^core/src/', pathNot: '^core/src/(api/|index\\.ts$)' },
    },
    {
      name: 'opentelemetry-sdk-outside-metrics',
      comment: 'only core/src/metrics records with the OpenTelemetry SDK; the plugin API declares what exporters read (api/metrics.ts)',
      severity: 'error',
      from: { path: '^core/src/', pathNot: '^core/src/metrics/' },
      to: { path: '@opentelemetry/sdk-' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)dist/|(^|/)node_modules/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.depcruise.json' },
    combinedDependencies: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js', '.cjs', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
