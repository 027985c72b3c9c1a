/**
 * The import rules of .dependency-cruiser.cjs (layer order, no cycles, plugins through the API
 * only) hold over core/src and plugins/, and they do catch each thing they forbid: the second test
 * cruises a small tree made to break every rule once.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

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

  it('catch an upward import, a sibling import, a cycle, a plugin past the API, an unlisted folder and the SDK outside metrics', () => {
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
        ]),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
