import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { errors } from '../errors';

export interface LabClickHouseOptions {
  url: string;
  /** Default "trellis". */
  database?: string;
}

type Side = { plugins?: Array<string | { name: string; config?: Record<string, unknown>; enabled?: boolean }>; settings?: Record<string, unknown> };

/**
 * writeLabConfig writes the config the lab's controller and agents load: the user's --config (if
 * any) with the telemetry-clickhouse plugin added to (or replacing it in) controller.plugins.
 * Relative plugin paths of the user's file are made absolute, since the merged file lives elsewhere.
 */
export function writeLabConfig(outFile: string, baseConfig: string | null, clickhouse: LabClickHouseOptions): string {
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
  if (!/^https?:\/\//.test(clickhouse.url)) throw errors.configInvalid('--clickhouse', `"${clickhouse.url}" must be the HTTP interface, e.g. http://127.0.0.1:8123`);
  const controller: Side = doc.controller ?? {};
  const plugins = (controller.plugins ?? []).filter((p) => (typeof p === 'string' ? p : p.name) !== 'telemetry-clickhouse');
  const existing = (doc.controller?.plugins ?? []).find((p) => typeof p !== 'string' && p.name === 'telemetry-clickhouse') as
    | { config?: Record<string, unknown> }
    | undefined;
  plugins.push({
    name: 'telemetry-clickhouse',
    config: {
      spoolDir: join(dirname(outFile), 'clickhouse-spool'),
      ...(existing?.config ?? {}),
      url: clickhouse.url,
      database: clickhouse.database ?? (existing?.config?.database as string | undefined) ?? 'trellis',
    },
  });
  doc.controller = { ...controller, plugins };
  mkdirSync(dirname(outFile), { recursive: true, mode: 0o700 });
  writeFileSync(outFile, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
  return outFile;
}
