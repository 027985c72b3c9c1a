import { isAbsolute, resolve as resolvePath } from 'node:path';
import { metrics, type Meter } from '@opentelemetry/api';
import Ajv from 'ajv';
import semver from 'semver';
import { PluginErrorCode, SkipPlugin } from '../api/errors';
import { TrellisError } from '../errors';
import { HOOK_KINDS, REMOVED_HOOKS, type HookName, type HookSignatures, type HooksOfKind } from '../api/hooks';
import { PLUGIN_API_VERSION, type AgentAccess, type ControllerAccess, type MetricsAccess, type TrellisPlugin } from '../api/plugin';
import { loadRuntimeConfig, type PluginEntry } from '../config/runtime-config';
import type { Logger } from '../log/logger';
import type { HookRunner } from './hook-runner';

type Side = 'agent' | 'controller';
type Args<H extends HookName> = Parameters<HookSignatures[H]>;
type Result<H extends HookName> = Awaited<ReturnType<HookSignatures[H]>>;
type AnyHook = (...args: unknown[]) => unknown;

export interface LoadedPlugin {
  plugin: TrellisPlugin;
  config: Record<string, unknown>;
}

const pluginError = (code: string, message: string) => new TrellisError(code, message);

/** checkPlugins applies the load-time checks and returns the plugins in dependency order. */
export function checkPlugins(plugins: TrellisPlugin[], coreVersion = PLUGIN_API_VERSION): TrellisPlugin[] {
  const byName = new Map<string, TrellisPlugin>();
  for (const p of plugins) {
    const m = p?.manifest;
    if (!m || typeof m.name !== 'string' || typeof m.version !== 'string' || typeof m.apiRange !== 'string') {
      throw pluginError(PluginErrorCode.INVALID_PLUGIN, 'a plugin is missing manifest.name, manifest.version or manifest.apiRange; build it with definePlugin()');
    }
    if (byName.has(m.name)) throw pluginError(PluginErrorCode.DUPLICATE_NAME, `plugin "${m.name}" is loaded twice; plugin names must be unique`);
    for (const [hook, instead] of Object.entries(REMOVED_HOOKS)) {
      if (typeof (p as unknown as Record<string, unknown>)[hook] === 'function') {
        throw pluginError(PluginErrorCode.INVALID_PLUGIN, `plugin "${m.name}" defines ${hook}, a hook this core no longer has; use ${instead} instead`);
      }
    }
    if (!semver.validRange(m.apiRange) || !semver.satisfies(coreVersion, m.apiRange)) {
      throw pluginError(PluginErrorCode.API_RANGE, `plugin "${m.name}" needs plugin API ${m.apiRange}, but this core provides ${coreVersion}`);
    }
    byName.set(m.name, p);
  }
  const ordered: TrellisPlugin[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (p: TrellisPlugin, chain: string[]) => {
    const name = p.manifest.name;
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      throw pluginError(PluginErrorCode.DEPENDENCY_CYCLE, `plugin dependency cycle: ${[...chain, name].join(' → ')}`);
    }
    state.set(name, 'visiting');
    for (const dep of p.manifest.dependsOn ?? []) {
      const d = byName.get(dep);
      if (!d) throw pluginError(PluginErrorCode.MISSING_DEPENDENCY, `plugin "${name}" depends on "${dep}", which is not loaded; add it to the config`);
      visit(d, [...chain, name]);
    }
    state.set(name, 'done');
    ordered.push(p);
  };
  for (const p of plugins) visit(p, []);
  return ordered;
}

const ajv = new Ajv({ allErrors: true, useDefaults: true });

/** validatePluginConfig applies schema defaults and rejects a config that does not fit the schema. */
export function validatePluginConfig(plugin: TrellisPlugin, config: Record<string, unknown>): Record<string, unknown> {
  const schema = plugin.manifest.configSchema;
  const copy = structuredClone(config ?? {});
  if (!schema) return copy;
  const validate = ajv.compile(schema);
  if (!validate(copy)) {
    const first = validate.errors?.[0];
    const extra = first?.params && 'additionalProperty' in first.params ? ` "${String(first.params.additionalProperty)}"` : '';
    throw pluginError(
      PluginErrorCode.INVALID_CONFIG,
      `config of plugin "${plugin.manifest.name}" is invalid: ${first?.instancePath || '/'} ${first?.message ?? ''}${extra}`.trim(),
    );
  }
  return copy;
}

/** resolvePluginModule loads a plugin by name (@trellis/plugin-<name>, a package, or a path). */
export function resolvePluginModule(name: string, baseDir: string): TrellisPlugin {
  const candidates = name.startsWith('.') || isAbsolute(name) ? [resolvePath(baseDir, name)] : [`@trellis/plugin-${name}`, name];
  let lastErr: unknown;
  for (const c of candidates) {
    let mod: Record<string, unknown>;
    try {
      mod = require(c) as Record<string, unknown>;
    } catch (err) {
      lastErr = err;
      continue;
    }
    const found = [mod.default, mod.plugin, ...Object.values(mod)].find(
      (v): v is TrellisPlugin => typeof v === 'object' && v !== null && 'manifest' in v,
    );
    if (found) return found;
    throw pluginError(PluginErrorCode.INVALID_PLUGIN, `module "${c}" does not export a plugin made with definePlugin()`);
  }
  throw pluginError(PluginErrorCode.NOT_FOUND, `plugin "${name}" not found (tried ${candidates.join(', ')}): ${(lastErr as Error)?.message?.split('\n')[0]}`);
}

/**
 * PluginHost owns the loaded plugins of one runtime: it runs setup in dependency order,
 * calls hooks by kind with every failure contained, and shuts down in reverse order.
 */
export class PluginHost implements HookRunner {
  private active: LoadedPlugin[] = [];
  /** Hook failures per plugin, for metrics and status. */
  readonly failures = new Map<string, number>();

  constructor(
    private readonly side: Side,
    private readonly log: Logger,
    /** A hook call that takes longer counts as failed, so a hung plugin cannot stall the map loop. */
    private readonly hookTimeoutMs = DEFAULT_HOOK_TIMEOUT_MS,
  ) {}

  names(): string[] {
    return this.active.map((a) => a.plugin.manifest.name);
  }

  /**
   * start checks everything (names, API range, dependencies, every config) before any setup runs,
   * then sets plugins up in dependency order. SkipPlugin and setup failures disable that plugin only.
   */
  async start(entries: Array<{ plugin: TrellisPlugin; config: Record<string, unknown> }>, access: { agent?: AgentAccess; controller?: ControllerAccess; meter?: Meter; metrics?: MetricsAccess }): Promise<void> {
    const mine = entries.filter((e) => !e.plugin.manifest?.sides || e.plugin.manifest.sides.includes(this.side));
    const ordered = checkPlugins(mine.map((e) => e.plugin));
    const configs = new Map(mine.map((e) => [e.plugin, validatePluginConfig(e.plugin, e.config)]));
    for (const plugin of ordered) {
      const name = plugin.manifest.name;
      const missing = (plugin.manifest.dependsOn ?? []).filter((d) => !this.active.some((a) => a.plugin.manifest.name === d));
      if (missing.length > 0) {
        this.log.warn({ plugin: name, missing }, 'plugin disabled: a plugin it depends on did not start');
        continue;
      }
      const config = configs.get(plugin) ?? {};
      try {
        await plugin.setup?.({
          side: this.side,
          log: this.log.child({ plugin: name }),
          meter: access.meter ?? metrics.getMeter(`trellis.plugin.${name}`, plugin.manifest.version),
          config,
          agent: access.agent,
          controller: access.controller,
          ...(access.metrics ? { metrics: access.metrics } : {}),
        });
        this.active.push({ plugin, config });
        this.log.info({ plugin: name, version: plugin.manifest.version }, 'plugin started');
      } catch (err) {
        if (err instanceof SkipPlugin) {
          this.log.info({ plugin: name, reason: err.message }, 'plugin skipped: does not apply here');
        } else {
          this.log.error({ plugin: name, hook: 'setup', code: codeOf(err), err: (err as Error).message }, 'plugin setup failed; plugin disabled');
        }
      }
    }
  }

  has(hook: HookName): boolean {
    return this.active.some((a) => typeof a.plugin[hook] === 'function');
  }

  private withHook(hook: HookName): Array<{ name: string; fn: AnyHook }> {
    const out: Array<{ name: string; fn: AnyHook }> = [];
    for (const a of this.active) {
      const fn = a.plugin[hook];
      if (typeof fn !== 'function') continue;
      const name = a.plugin.manifest.name;
      const bound = fn.bind(a.plugin) as AnyHook;
      out.push({ name, fn: (...args: unknown[]) => withTimeout(Promise.resolve().then(() => bound(...args)), this.hookTimeoutMs, name, hook) });
    }
    return out;
  }

  private failed(plugin: string, hook: HookName, err: unknown, calls = 1): void {
    this.failures.set(plugin, (this.failures.get(plugin) ?? 0) + calls);
    this.log.error({ plugin, hook, kind: HOOK_KINDS[hook], code: codeOf(err), err: (err as Error)?.message, ...(calls > 1 ? { calls } : {}) }, 'plugin hook failed');
  }

  async runFirst<H extends HooksOfKind<'first'>>(hook: H, ...args: Args<H>): Promise<Result<H> | null> {
    for (const { name, fn } of this.withHook(hook)) {
      try {
        const r = (await fn(...args)) as Result<H> | null | undefined;
        if (r !== null && r !== undefined) return r;
      } catch (err) {
        this.failed(name, hook, err);
      }
    }
    return null;
  }

  async runSequential<H extends HooksOfKind<'sequential'>>(hook: H, ...args: Args<H>): Promise<Args<H>[0]> {
    let [value, ...rest] = args as unknown[];
    for (const { name, fn } of this.withHook(hook)) {
      try {
        const next = await fn(value, ...rest);
        if (next !== undefined && next !== null) value = next;
      } catch (err) {
        this.failed(name, hook, err);
      }
    }
    return value as Args<H>[0];
  }

  async runParallel<H extends HooksOfKind<'parallel'>>(hook: H, ...args: Args<H>): Promise<Array<Result<H>>> {
    return Object.values(await this.runParallelNamed(hook, ...args));
  }

  async runParallelNamed<H extends HooksOfKind<'parallel'>>(hook: H, ...args: Args<H>): Promise<Record<string, Result<H>>> {
    const hooks = this.withHook(hook);
    const settled = await Promise.allSettled(hooks.map(({ fn }) => fn(...args)));
    const out: Record<string, Result<H>> = {};
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') out[hooks[i].name] = s.value as Result<H>;
      else this.failed(hooks[i].name, hook, s.reason);
    });
    return out;
  }

  async runParallelEach<H extends HooksOfKind<'parallel'>>(hook: H, items: ReadonlyArray<Args<H>>): Promise<Array<Record<string, NonNullable<Result<H>>>>> {
    const out = items.map(() => ({}) as Record<string, NonNullable<Result<H>>>);
    const pending: Array<Promise<void>> = [];
    const failures: Array<{ name: string; calls: number; first: unknown }> = [];
    for (const a of this.active) {
      const fn = a.plugin[hook] as AnyHook | undefined;
      if (typeof fn !== 'function') continue;
      const name = a.plugin.manifest.name;
      const failure = { name, calls: 0, first: undefined as unknown };
      failures.push(failure);
      const fail = (err: unknown) => {
        if (failure.calls++ === 0) failure.first = err;
      };
      for (let i = 0; i < items.length; i++) {
        let r: unknown;
        try {
          r = fn.apply(a.plugin, items[i] as unknown[]);
        } catch (err) {
          fail(err);
          continue;
        }
        if (isPromiseLike(r)) {
          const at = out[i]!;
          pending.push(
            withTimeout(Promise.resolve(r), this.hookTimeoutMs, name, hook).then((v) => {
              if (v !== null && v !== undefined) at[name] = v as NonNullable<Result<H>>;
            }, fail),
          );
        } else if (r !== null && r !== undefined) {
          out[i]![name] = r as NonNullable<Result<H>>;
        }
      }
    }
    if (pending.length > 0) await Promise.all(pending);
    for (const f of failures) if (f.calls > 0) this.failed(f.name, hook, f.first, f.calls);
    return out;
  }

  /** shutdown stops plugins in reverse setup order; a failing shutdown is logged and the rest continue. */
  async shutdown(): Promise<void> {
    for (const a of [...this.active].reverse()) {
      try {
        await a.plugin.shutdown?.();
      } catch (err) {
        this.log.error({ plugin: a.plugin.manifest.name, hook: 'shutdown', code: codeOf(err), err: (err as Error).message }, 'plugin shutdown failed');
      }
    }
    this.active = [];
  }
}

/** How long one hook call may take before it counts as failed. */
export const DEFAULT_HOOK_TIMEOUT_MS = 10_000;

function withTimeout<T>(p: Promise<T>, ms: number, plugin: string, hook: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(pluginError(PluginErrorCode.HOOK_TIMEOUT, `plugin "${plugin}" hook ${hook} did not finish within ${ms} ms`)),
      ms,
    );
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function codeOf(err: unknown): string {
  return err instanceof TrellisError ? err.code : PluginErrorCode.HOOK_FAILED;
}

export interface LoadPluginHostOptions {
  side: Side;
  configFile?: string;
  log: Logger;
  agent?: AgentAccess;
  controller?: ControllerAccess;
  meter?: Meter;
  metrics?: MetricsAccess;
  /** Plugins given directly (tests, embedding); loaded before those named in the config file. */
  plugins?: Array<{ plugin: TrellisPlugin; config?: Record<string, unknown> }>;
}

/** loadPluginHost reads the config file, resolves the plugins this side loads, and starts them. */
export async function loadPluginHost(opts: LoadPluginHostOptions): Promise<PluginHost> {
  const entries: Array<{ plugin: TrellisPlugin; config: Record<string, unknown> }> = (opts.plugins ?? []).map((p) => ({
    plugin: p.plugin,
    config: p.config ?? {},
  }));
  if (opts.configFile) {
    const cfg = loadRuntimeConfig(opts.configFile);
    const listed: PluginEntry[] = cfg[opts.side].plugins.filter((p) => p.enabled);
    for (const entry of listed) entries.push({ plugin: resolvePluginModule(entry.name, cfg.baseDir), config: entry.config });
  }
  const host = new PluginHost(opts.side, opts.log);
  await host.start(entries, opts);
  return host;
}
