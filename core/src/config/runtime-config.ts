/**
 * config: the one file both runtimes read. It names the plugins each side loads and their config:
 *
 *   controller:
 *     plugins:
 *       - name: facts-host          # @trellis/plugin-facts-host, or ./path/to/plugin.js
 *         config: { ... }
 *   agent:
 *     plugins: [facts-host]
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Ajv from 'ajv';
import { parse as parseYaml } from 'yaml';
import { errors } from '../errors';

export interface PluginEntry {
  name: string;
  config: Record<string, unknown>;
  enabled: boolean;
}

export interface RuntimeConfig {
  /** Directory of the file, for resolving relative plugin paths. */
  baseDir: string;
  controller: { plugins: PluginEntry[]; settings: Record<string, unknown> };
  agent: { plugins: PluginEntry[]; settings: Record<string, unknown> };
}

const pluginEntry = {
  oneOf: [
    { type: 'string', minLength: 1 },
    {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: {
        name: { type: 'string', minLength: 1 },
        config: { type: 'object' },
        enabled: { type: 'boolean' },
      },
    },
  ],
};
const side = {
  type: 'object',
  additionalProperties: false,
  properties: {
    plugins: { type: 'array', items: pluginEntry },
    settings: { type: 'object' },
  },
};
const schema = {
  type: 'object',
  additionalProperties: false,
  properties: { controller: side, agent: side },
};
const validate = new Ajv({ allErrors: true }).compile(schema);

type RawSide = { plugins?: Array<string | { name: string; config?: Record<string, unknown>; enabled?: boolean }>; settings?: Record<string, unknown> };

function normalizeSide(raw: RawSide | undefined): RuntimeConfig['controller'] {
  return {
    plugins: (raw?.plugins ?? []).map((p) =>
      typeof p === 'string' ? { name: p, config: {}, enabled: true } : { name: p.name, config: p.config ?? {}, enabled: p.enabled ?? true },
    ),
    settings: raw?.settings ?? {},
  };
}

/** parseRuntimeConfig validates config text; errors name the file and the offending path. */
export function parseRuntimeConfig(text: string, file: string, baseDir: string): RuntimeConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text) ?? {};
  } catch (err) {
    throw errors.configInvalid(file, `not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!validate(doc)) {
    const first = validate.errors?.[0];
    const where = first?.instancePath || '/';
    const extra = first?.params && 'additionalProperty' in first.params ? ` "${String(first.params.additionalProperty)}"` : '';
    throw errors.configInvalid(file, `${where} ${first?.message ?? 'is invalid'}${extra}`);
  }
  const d = doc as { controller?: RawSide; agent?: RawSide };
  return { baseDir, controller: normalizeSide(d.controller), agent: normalizeSide(d.agent) };
}

/** loadRuntimeConfig reads and validates a config file. */
export function loadRuntimeConfig(file: string): RuntimeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw errors.configInvalid(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseRuntimeConfig(text, file, dirname(resolve(file)));
}
