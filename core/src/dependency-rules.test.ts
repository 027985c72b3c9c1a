/**
 * The import rules of .dependency-cruiser.cjs (layer order, no cycles, plugins through the API
 * only, core names no plugin) hold over core/src and plugins/, and they do catch each thing they
 * forbid: the second test cruises a small tree made to break every rule once. Core may not name a
 * plugin in a string either (a plugin chosen in core source, not by a config), which no import
 * rule sees: the last tests read core/src's string literals for that.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(__dirname, '..', '..');
const BIN = realpathSync(join(ROOT, 'node_modules', '.bin', 'depcruise'));

interface Violation {
  from: string;
  to: string;
  rule: { name: string; severity: string };
}

function cruise(cwd: string, targets: string[]): Violation[] {
  const r = spawnSync(process.execPath, [BIN, '--config', '.dependency-cruiser.cjs', '--output-type', 'json', ...targets], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (!r.stdout) throw new Error(`depcruise printed nothing (exit ${r.status}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

const describeViolations = (vs: Violation[]) => vs.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);

describe('dependency rules', () => {
  it('core/src and plugins/ import only downward, in no circle, and plugins reach core through @trellis/core/api', () => {
    expect(describeViolations(cruise(ROOT, ['core/src', 'plugins']))).toEqual([]);
  }, 60_000);

  it('catch an upward import, a sibling import, a cycle, a plugin past the API, core importing a plugin, an unlisted folder and the SDK outside metrics', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trellis-depcruise-'));
    try {
      for (const f of ['.dependency-cruiser.cjs', 'tsconfig.depcruise.json', 'tsconfig.base.json']) copyFileSync(join(ROOT, f), join(dir, f));
      const files: Record<string, string> = {
        'core/src/index.ts': "export { plugin } from './api/plugin';\n",
        'core/src/api/index.ts': "export { plugin } from './plugin';\n",
        'core/src/api/plugin.ts': "import type { MeterProvider } from '@opentelemetry/sdk-metrics';\nexport const plugin = (m?: MeterProvider) => m;\n",
        'core/src/wg/device.ts': "import { plugin } from '../api/plugin';\nexport const device = plugin;\n",
        'core/src/agent/agent.ts': "import { route } from '../controller/route';\nexport const agent = route;\n",
        'core/src/controller/route.ts': 'export const route = 1;\n',
        'core/src/store/a.ts': "import type { B } from './b';\nexport interface A { b: B }\n",
        'core/src/store/b.ts': "import type { A } from './a';\nexport interface B { a: A }\n",
        'core/src/gadgets/gadget.ts': "import { sep } from 'node:path';\nexport const gadget = sep;\n",
        'plugins/demo/src/index.ts': "import { plugin } from '@trellis/core';\nimport { route } from '../../../core/src/controller/route';\nexport const demo = [plugin, route];\n",
        'core/src/cli/demo-command.ts': "import { demo } from '@trellis/plugin-demo';\nimport { route } from '../../../plugins/demo/src/route';\nexport const run = [demo, route];\n",
        'plugins/demo/src/route.ts': 'export const route = 2;\n',
      };
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(join(dir, dirname(path)), { recursive: true });
        writeFileSync(join(dir, path), text);
      }
      const found = describeViolations(cruise(dir, ['core/src', 'plugins']));
      expect(found).toEqual(
        expect.arrayContaining([
          'netmap-wg-imports-upward: core/src/wg/device.ts → core/src/api/plugin.ts',
          'agent-imports-sibling: core/src/agent/agent.ts → core/src/controller/route.ts',
          'no-circular: core/src/store/a.ts → core/src/store/b.ts',
          'core-src-layer-unlisted: core/src/gadgets/gadget.ts → path',
          'plugin-imports-core-beyond-api: plugins/demo/src/index.ts → core/src/index.ts',
          'plugin-imports-core-beyond-api: plugins/demo/src/index.ts → core/src/controller/route.ts',
          'opentelemetry-sdk-outside-metrics: core/src/api/plugin.ts → @opentelemetry/sdk-metrics',
          'core-names-plugin: core/src/cli/demo-command.ts → plugins/demo/src/index.ts',
          'core-names-plugin: core/src/cli/demo-command.ts → plugins/demo/src/route.ts',
        ]),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('core/src code names no plugin package or folder in a string', () => {
    expect(stringsNamingPlugins(join(ROOT, 'core', 'src'), pluginNames())).toEqual([]);
  });

  it('catch a plugin named by its folder, its package or its path in core code, not in comments, messages or tests', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trellis-plugin-names-'));
    try {
      const files: Record<string, string> = {
        'lab/wiring.ts': "const a = { name: 'telemetry-clickhouse' };\nconst b = require(`@trellis/plugin-facts-host`);\nconst c = `${root}/plugins/posture-opa/dist`;\nexport { a, b, c };\n",
        'lab/fine.ts': "// loads telemetry-clickhouse\n/** like plugins/posture-opa */\nexport const hint = 'add the posture-opa plugin to controller.plugins';\n",
        'lab/wiring.test.ts': "export const t = 'telemetry-clickhouse';\n",
      };
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(join(dir, dirname(path)), { recursive: true });
        writeFileSync(join(dir, path), text);
      }
      expect(stringsNamingPlugins(dir, ['telemetry-clickhouse', 'facts-host', 'posture-opa'])).toEqual([
        "lab/wiring.ts:1 'telemetry-clickhouse'",
        "lab/wiring.ts:2 '@trellis/plugin-facts-host'",
        "lab/wiring.ts:3 '/plugins/posture-opa/dist'",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** pluginNames lists the folders of plugins/: every plugin this repository has. */
function pluginNames(): string[] {
  return readdirSync(join(ROOT, 'plugins')).filter((d) => statSync(join(ROOT, 'plugins', d)).isDirectory());
}

/**
 * stringsNamingPlugins lists, as "file:line 'text'", each string literal (template parts too) of
 * the non-test .ts files under dir that is a plugin's name, names its package, or holds a path
 * through its folder. A plugin named inside a sentence (a hint in a message) is not one of them.
 */
function stringsNamingPlugins(dir: string, plugins: string[]): string[] {
  const names = new RegExp(`^(${plugins.join('|')})$|^@trellis/plugin-(${plugins.join('|')})\\b|(^|/)plugins/(${plugins.join('|')})\\b`);
  const found: string[] = [];
  const visit = (file: string) => {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const walk = (node: ts.Node) => {
      if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
        if (names.test(node.text)) found.push(`${relative(dir, file)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1} '${node.text}'`);
      }
      ts.forEachChild(node, walk);
    };
    walk(source);
  };
  const list = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) list(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts')) visit(path);
    }
  };
  list(dir);
  return found.sort();
}
