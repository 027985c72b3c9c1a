import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ActivePolicy, ControllerPolicyAccess, PolicyEngine, PolicySource } from '../api/policy';
import { errors } from '../errors';
import type { Logger } from '../log/logger';
import type { Store } from '../store/store';
import type { PolicyChangeResponse, PolicyStatusView } from '../wire';

/** Bundles live in <dataDir>/policies/<sha256>.tgz: content-addressed, written once. */
export const POLICY_DIR = 'policies';

export interface PolicyLibraryDeps {
  store: Store;
  dataDir: string;
  log: Logger;
  clock: () => number;
  /** Called after the active version changed (push, rollback, seed). */
  onChange(reason: string): void;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * PolicyLibrary is the controller's policy lifecycle: versions are bundle files named by their
 * sha256 plus rows in policy_versions; the active pointer moves in one store transaction (push,
 * rollback), so a refused or failed change leaves the active version as it was. The language itself
 * (compile, test, evaluate) belongs to the PolicyEngine a plugin registers.
 */
export class PolicyLibrary implements ControllerPolicyAccess {
  private engine: PolicyEngine | null = null;
  private current: ActivePolicy | null = null;

  private constructor(private readonly d: PolicyLibraryDeps) {}

  /** open loads the active version from the store (its bundle from disk, else from the store). */
  static async open(d: PolicyLibraryDeps): Promise<PolicyLibrary> {
    const lib = new PolicyLibrary(d);
    const active = await d.store.activePolicy();
    if (active) lib.current = { version: active.version, bundle: await lib.loadBundle(active.version, active.file), activatedAt: active.activatedAt };
    return lib;
  }

  /**
   * loadBundle reads a version's bundle from <dataDir>, else from the store (a version another
   * controller sharing the store activated), writing it to disk for next time.
   */
  private async loadBundle(version: string, file: string): Promise<Buffer> {
    const path = join(this.d.dataDir, file);
    try {
      return readFileSync(path);
    } catch (err) {
      const stored = await this.d.store.policyBundle(version);
      if (!stored) {
        throw errors.store(`active policy bundle ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}) and the store holds no copy; restore it or roll back`);
      }
      if (sha256(stored) !== version) throw errors.store(`the store's copy of policy bundle ${version.slice(0, 12)} does not match its sha256; push the policy again`);
      writeBundle(this.d.dataDir, path, stored);
      return stored;
    }
  }

  /**
   * follow makes the store's active version current after another controller sharing the store
   * moved it; true when it changed (then onChange is not called: the other controller decided).
   */
  async follow(): Promise<boolean> {
    const active = await this.d.store.activePolicy();
    if (!active || active.version === this.current?.version) return false;
    this.current = { version: active.version, bundle: await this.loadBundle(active.version, active.file), activatedAt: active.activatedAt };
    this.d.log.info({ version: active.version }, 'policy activated by another controller');
    return true;
  }

  registerEngine(engine: PolicyEngine): void {
    this.engine = engine;
  }

  get hasEngine(): boolean {
    return this.engine !== null;
  }

  active(): ActivePolicy | null {
    return this.current;
  }

  async seed(bundle: Buffer, source: string): Promise<ActivePolicy> {
    if (this.current) return this.current;
    await this.activate(bundle, source, 'seed', 'controller');
    return this.current!;
  }

  /** push has the engine compile and test the source, then activates the bundle. */
  async push(src: PolicySource, actor: string): Promise<PolicyChangeResponse> {
    const engine = this.requireEngine();
    const prepared = await engine.prepare(src);
    await engine.validate(prepared.bundle, src.source);
    const previous = this.current?.version ?? null;
    if (previous === prepared.version) return { version: previous, previousVersion: previous, unchanged: true, testSummary: prepared.testSummary };
    await this.activate(prepared.bundle, src.source, 'push', actor);
    return { version: prepared.version, previousVersion: previous, unchanged: false, testSummary: prepared.testSummary };
  }

  async rollback(actor: string): Promise<PolicyChangeResponse> {
    const at = this.d.clock();
    const { from, to } = await this.d.store.rollbackPolicy({ at, actor }, (fromV, toV) => ({
      action: 'policy.rolledBack',
      actor,
      target: toV,
      details: { from: fromV, to: toV },
    }));
    const bundle = await this.loadBundle(to.version, to.file);
    this.current = { version: to.version, bundle, activatedAt: at };
    this.d.log.info({ from, to: to.version }, 'policy rolled back');
    this.d.onChange(`policy rollback to ${to.version.slice(0, 12)}`);
    return { version: to.version, previousVersion: from, unchanged: false };
  }

  async status(): Promise<PolicyStatusView> {
    const active = await this.d.store.activePolicy();
    const view = (v: { version: string; source: string; size: number; createdAt: number }) => ({
      version: v.version,
      source: v.source,
      size: v.size,
      createdAt: v.createdAt,
    });
    return {
      engine: this.engine !== null,
      active: active ? { ...view(active), activatedAt: active.activatedAt } : null,
      activations: (await this.d.store.listPolicyActivations()).map((a) => ({ version: a.version, at: a.at, actor: a.actor, kind: a.kind })),
      versions: (await this.d.store.listPolicyVersions()).map(view),
    };
  }

  requireEngine(): PolicyEngine {
    if (!this.engine) throw errors.policyEngineMissing();
    return this.engine;
  }

  private async activate(bundle: Buffer, source: string, kind: string, actor: string): Promise<void> {
    const version = sha256(bundle);
    const file = join(POLICY_DIR, `${version}.tgz`);
    const path = join(this.d.dataDir, file);
    if (!existsSync(path)) writeBundle(this.d.dataDir, path, bundle);
    const at = this.d.clock();
    const previous = this.current?.version ?? null;
    await this.d.store.activatePolicy(
      { version, file, size: bundle.length, source: source.slice(0, 1024), createdAt: at },
      { at, actor, kind },
      { at, action: 'policy.activated', actor, target: version, details: { kind, source: source.slice(0, 1024), previousVersion: previous, size: bundle.length } },
      bundle,
    );
    this.current = { version, bundle, activatedAt: at };
    this.d.log.info({ version, previous, kind, source }, 'policy activated');
    this.d.onChange(`policy ${kind} ${version.slice(0, 12)}`);
  }
}

function writeBundle(dataDir: string, path: string, bundle: Buffer): void {
  mkdirSync(join(dataDir, POLICY_DIR), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bundle, { mode: 0o600 });
  renameSync(tmp, path);
}
