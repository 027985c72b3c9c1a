import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { errors } from '../errors';

export interface LabClickHouseOptions {
  url: string;
  /** Default "trellis". */
  database?: string;
}

/** Where metrics-prometheus listens when the lab runs a Prometheus (it must be reachable from the root namespace). */
export interface LabMetricsListen {
  controller: string;
  agent: string;
}

type Side = { plugins?: Array<string | { name: string; config?: Record<string, unknown>; enabled?: boolean }>; settings?: Record<string, unknown> };

type PluginEntry = NonNullable<Side['plugins']>[number];
const entryName = (p: PluginEntry) => (typeof p === 'string' ? p : p.name);

/** withPlugin puts `name` with `config` merged over the user's own entry (or a new one) into a plugin list. */
function withPlugin(plugins: PluginEntry[] | undefined, name: string, config: (existing: Record<string, unknown>) => Record<string, unknown>): PluginEntry[] {
  const list = plugins ?? [];
  const existing = list.find((p) => typeof p !== 'string' && p.name === name) as { config?: Record<string, unknown> } | undefined;
  return [...list.filter((p) => entryName(p) !== name), { name, config: config(existing?.config ?? {}) }];
}

/**
 * writeLabConfig writes the config the lab's controller and agents load: the user's --config (if
 * any) with the telemetry-clickhouse plugin added to (or replacing it in) controller.plugins, and,
 * for the lab's Prometheus, metrics-prometheus on both sides listening where it can be scraped.
 * Relative plugin paths of the user's file are made absolute, since the merged file lives elsewhere.
 */
export function writeLabConfig(
  outFile: string,
  baseConfig: string | null,
  clickhouse: LabClickHouseOptions | null,
  metrics: LabMetricsListen | null = null,
  controllerSettings: Record<string, unknown> | null = null,
): string {
  let doc: { controller?: Side; agent?: Side } = {};
  if (baseConfig !== null) {
    try {
      doc = (parseYaml(readFileSync(baseConfig, 'utf8')) ?? {}) as typeof doc;
    } catch (err) {
      throw errors.configInvalid(baseConfig, `cannot be read as YAML/JSON (${(err as Error).message.split('\n')[0]})`);
    }
    const base = dirname(resolve(baseConfig));
    for (const side of [doc.controller, doc.agent]) {
      if (!side?.plugins) continue;
      side.plugins = side.plugins.map((p) => {
        const name = typeof p === 'string' ? p : p.name;
        if (!name.startsWith('.')) return p;
        return typeof p === 'string' ? resolve(base, p) : { ...p, name: resolve(base, p.name) };
      });
    }
  }
  if (clickhouse !== null) {
    if (!/^https?:\/\//.test(clickhouse.url)) throw errors.configInvalid('--clickhouse', `"${clickhouse.url}" must be the HTTP interface, e.g. http://127.0.0.1:8123`);
    const controller: Side = doc.controller ?? {};
    const plugins = withPlugin(controller.plugins, 'telemetry-clickhouse', (existing) => ({
      spoolDir: join(dirname(outFile), 'clickhouse-spool'),
      ...existing,
      url: clickhouse.url,
      database: clickhouse.database ?? (existing.database as string | undefined) ?? 'trellis',
    }));
    doc.controller = { ...controller, plugins };
  }
  if (metrics !== null) {
    for (const side of ['controller', 'agent'] as const) {
      const s: Side = doc[side] ?? {};
      doc[side] = { ...s, plugins: withPlugin(s.plugins, 'metrics-prometheus', (existing) => ({ ...existing, listen: metrics[side] })) };
    }
  }
  if (controllerSettings !== null) {
    const c: Side = doc.controller ?? {};
    doc.controller = { ...c, settings: { ...(c.settings ?? {}), ...controllerSettings } };
  }
  mkdirSync(dirname(outFile), { recursive: true, mode: 0o700 });
  writeFileSync(outFile, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
  return outFile;
}
