/**
 * The config the lab's controller and agents load: the user's --config with the plugins of every
 * service the lab runs merged in. Which plugins serve a service is the lab's services file's to say
 * (deploy/lab/services.yaml), and what config they need there is each plugin's own (its `lab`
 * wiring, api/lab-wiring.ts), so the lab names no plugin itself.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { LAB_SERVICE_NAMES, type LabServiceName, type LabServices } from '../api/lab-wiring';
import type { TrellisPlugin } from '../api/plugin';
import { errors } from '../errors';
import { resolvePluginModule } from '../plugins/plugin-host';

type PluginEntry = string | { name: string; config?: Record<string, unknown>; enabled?: boolean };
type Side = { plugins?: PluginEntry[]; settings?: Record<string, unknown> };
type SideName = 'agent' | 'controller';

const entryName = (p: PluginEntry) => (typeof p === 'string' ? p : p.name);

/** LabServicePlugins is a services file read: the plugins (names or paths) that serve each service. */
export interface LabServicePlugins {
  /** The file, for messages. */
  file: string;
  /** Plugin names, or absolute paths (the file's relative ones resolved against its folder). */
  plugins: Partial<Record<LabServiceName, string[]>>;
}

/** defaultServicesFile is deploy/lab/services.yaml of the checkout the CLI runs from. */
export function defaultServicesFile(cliPath: string): string {
  return resolve(dirname(cliPath), '..', '..', '..', 'deploy', 'lab', 'services.yaml');
}

/** readServicesFile reads a lab services file; errors name the file and what is wrong in it. */
export function readServicesFile(file: string): LabServicePlugins {
  if (!existsSync(file)) throw errors.lab(`no services file at ${file}; it names the plugins that serve the lab's --clickhouse and --prometheus`);
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8')) ?? {};
  } catch (err) {
    throw errors.configInvalid(file, `cannot be read as YAML/JSON (${(err as Error).message.split('\n')[0]})`);
  }
  const services = (doc as { services?: unknown }).services;
  if (typeof doc !== 'object' || Array.isArray(doc) || typeof services !== 'object' || services === null || Array.isArray(services)) {
    throw errors.configInvalid(file, 'must hold `services:`, a map from a service (clickhouse, prometheus) to the plugins that serve it');
  }
  const plugins: LabServicePlugins['plugins'] = {};
  for (const [service, names] of Object.entries(services)) {
    if (!(LAB_SERVICE_NAMES as readonly string[]).includes(service)) {
      throw errors.configInvalid(file, `services.${service} is no service the lab runs (${LAB_SERVICE_NAMES.join(', ')})`);
    }
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string' || n === '')) {
      throw errors.configInvalid(file, `services.${service} must be a list of plugin names or paths`);
    }
    // A path is made absolute here, so the merged config (written elsewhere) still finds it.
    plugins[service as LabServiceName] = (names as string[]).map((n) => (n.startsWith('.') ? resolve(dirname(resolve(file)), n) : n));
  }
  return { file, plugins };
}

/** labPluginsFor loads the plugins that serve the running services, each once, in the file's order. */
function labPluginsFor(services: LabServices, servicePlugins: LabServicePlugins): Array<{ name: string; plugin: TrellisPlugin }> {
  const out: Array<{ name: string; plugin: TrellisPlugin }> = [];
  for (const service of LAB_SERVICE_NAMES) {
    if (services[service] === undefined) continue;
    for (const name of servicePlugins.plugins[service] ?? []) {
      if (out.some((p) => p.name === name)) continue;
      let plugin: TrellisPlugin;
      try {
        plugin = resolvePluginModule(name, dirname(resolve(servicePlugins.file)));
      } catch (err) {
        throw errors.lab(`${servicePlugins.file} names "${name}" for ${service}, but it cannot be loaded: ${(err as Error).message}`);
      }
      if (typeof plugin.lab?.config !== 'function') {
        throw errors.lab(`${servicePlugins.file} names "${name}" for ${service}, but the plugin has no lab wiring; give it definePlugin({ lab: { config } })`);
      }
      out.push({ name, plugin });
    }
  }
  return out;
}

/** withPlugin puts `name` with `config` in place of the user's own entry (or as a new one) into a plugin list. */
function withPlugin(plugins: PluginEntry[] | undefined, name: string, config: Record<string, unknown>): PluginEntry[] {
  const list = plugins ?? [];
  return [...list.filter((p) => entryName(p) !== name), { name, config }];
}

function checkServices(services: LabServices): void {
  const url = services.clickhouse?.url;
  if (url !== undefined && !/^https?:\/\//.test(url)) throw errors.configInvalid('--clickhouse', `"${url}" must be the HTTP interface, e.g. http://127.0.0.1:8123`);
}

/**
 * writeLabConfig writes the config the lab's controller and agents load: the user's --config (if
 * any), with each plugin that serves a running service put on the sides its manifest names, in
 * place of the user's entry for it (the plugin's wiring sees that entry's config), and
 * `controllerSettings` over controller.settings. Relative plugin paths of the user's file are made
 * absolute, since the merged file lives elsewhere. The plugins see the file's folder as configDir.
 */
export function writeLabConfig(
  outFile: string,
  baseConfig: string | null,
  running: Omit<LabServices, 'configDir'>,
  servicePlugins: LabServicePlugins | null,
  controllerSettings: Record<string, unknown> | null = null,
): string {
  const services: LabServices = { ...running, configDir: dirname(outFile) };
  checkServices(services);
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
        const name = entryName(p);
        if (!name.startsWith('.')) return p;
        return typeof p === 'string' ? resolve(base, p) : { ...p, name: resolve(base, p.name) };
      });
    }
  }
  const names = LAB_SERVICE_NAMES.filter((s) => services[s] !== undefined);
  if (names.length > 0) {
    if (servicePlugins === null) throw errors.lab(`${names.join(' and ')} need a services file naming the plugins that serve them`);
    for (const { name, plugin } of labPluginsFor(services, servicePlugins)) {
      const sides = (['controller', 'agent'] as SideName[]).filter((side) => plugin.manifest.sides?.includes(side) ?? true);
      for (const side of sides) {
        const s: Side = doc[side] ?? {};
        const own = s.plugins?.find((p): p is Exclude<PluginEntry, string> => typeof p !== 'string' && p.name === name);
        const config = plugin.lab!.config(side, services, own?.config ?? {});
        if (config === null) continue;
        doc[side] = { ...s, plugins: withPlugin(s.plugins, name, config) };
      }
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
