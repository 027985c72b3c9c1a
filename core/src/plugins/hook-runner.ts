/**
 * plugins: loading plugins by name from config and calling their hooks by kind.
 */
import type { HookName, HookSignatures, HooksOfKind } from '../api/hooks';

type Args<H extends HookName> = Parameters<HookSignatures[H]>;
type Result<H extends HookName> = Awaited<ReturnType<HookSignatures[H]>>;

/**
 * HookRunner calls a hook on every loaded plugin that has it, according to the hook's kind.
 * Errors are caught and logged with { plugin, hook, code }; they never propagate to the caller.
 */
export interface HookRunner {
  /** first: returns the first non-null result, or null. */
  runFirst<H extends HooksOfKind<'first'>>(hook: H, ...args: Args<H>): Promise<Result<H> | null>;
  /** sequential: threads the value through each plugin; a failing plugin's step is skipped. */
  runSequential<H extends HooksOfKind<'sequential'>>(hook: H, ...args: Args<H>): Promise<Args<H>[0]>;
  /** parallel: runs all at once and returns the fulfilled results. */
  runParallel<H extends HooksOfKind<'parallel'>>(hook: H, ...args: Args<H>): Promise<Array<Result<H>>>;
  /** parallel, keyed by plugin name: for results that belong to a plugin (status sections). */
  runParallelNamed<H extends HooksOfKind<'parallel'>>(hook: H, ...args: Args<H>): Promise<Record<string, Result<H>>>;
  /**
   * parallel, once per item (e.g. mapExtension for every node of a build): one record per item,
   * keyed by plugin name, without null or undefined results. A plain (non-promise) result costs a
   * plain call: no promise or timer per item; failures are logged once per plugin and batch.
   */
  runParallelEach<H extends HooksOfKind<'parallel'>>(hook: H, items: ReadonlyArray<Args<H>>): Promise<Array<Record<string, NonNullable<Result<H>>>>>;
  /** Whether any loaded plugin implements the hook (lets callers skip work). */
  has(hook: HookName): boolean;
}

/** A HookRunner with no plugins, for tests and for runtimes started without a config file. */
export const noHooks: HookRunner = {
  async runFirst() {
    return null;
  },
  async runSequential(_hook, ...args) {
    return args[0];
  },
  async runParallel() {
    return [];
  },
  async runParallelNamed() {
    return {};
  },
  async runParallelEach(_hook, items) {
    return items.map(() => ({}));
  },
  has() {
    return false;
  },
};
