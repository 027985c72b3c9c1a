import type Database from 'better-sqlite3';
import { errors } from '../../errors';
import type { AuditEntry } from '../audit-repository';
import type { PolicyActivation, PolicyRepository, PolicyVersionRecord } from '../policy-repository';
import { META_POLICY_ACTIVE, toVersion, type PolicyVersionRow } from '../store-rows';
import type { SqliteAuditRepository } from './sqlite-audit-repository';
import type { SqliteMetaRepository } from './sqlite-meta-repository';



export class SqlitePolicyRepository implements PolicyRepository {
  constructor(
    private readonly db: Database.Database,
    private readonly meta: SqliteMetaRepository,
    private readonly audit: SqliteAuditRepository,
  ) {}

  async policyBundle(version: string): Promise<Buffer | null> {
    const r = this.db.prepare('SELECT bundle FROM policy_versions WHERE version = ?').get(version) as { bundle: Buffer | null } | undefined;
    return r?.bundle ?? null;
  }

  private versionSync(version: string): PolicyVersionRecord | null {
    const r = this.db.prepare('SELECT version, file, size, source, created_at FROM policy_versions WHERE version = ?').get(version) as PolicyVersionRow | undefined;
    return r ? toVersion(r) : null;
  }

  private activationsSync(): PolicyActivation[] {
    return this.db.prepare('SELECT seq, version, at, actor, kind FROM policy_activations WHERE undone = 0 ORDER BY seq').all() as PolicyActivation[];
  }

  async activatePolicy(version: PolicyVersionRecord, activation: { at: number; actor: string; kind: string }, audit: AuditEntry, bundle?: Buffer): Promise<void> {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT OR IGNORE INTO policy_versions (version, file, size, source, created_at, bundle) VALUES (?, ?, ?, ?, ?, ?)')
        .run(version.version, version.file, version.size, version.source, version.createdAt, bundle ?? null);
      if (bundle) this.db.prepare('UPDATE policy_versions SET bundle = ? WHERE version = ? AND bundle IS NULL').run(bundle, version.version);
      this.db.prepare('INSERT INTO policy_activations (version, at, actor, kind) VALUES (?, ?, ?, ?)').run(version.version, activation.at, activation.actor, activation.kind);
      this.meta.setSync(META_POLICY_ACTIVE, version.version);
      this.audit.appendSync(audit);
    })();
  }

  async rollbackPolicy(activation: { at: number; actor: string }, audit: (from: string, to: string) => AuditEntry): Promise<{ from: string; to: PolicyVersionRecord }> {
    return this.db.transaction(() => {
      const stack = this.activationsSync();
      const current = stack[stack.length - 1];
      const previous = [...stack].reverse().find((a) => current && a.version !== current.version);
      if (!current || !previous) throw errors.policyNoPrevious(current?.version ?? null);
      // Undo every activation after the previous version's, so a second rollback goes further back.
      this.db.prepare('UPDATE policy_activations SET undone = 1 WHERE seq > ? AND undone = 0').run(previous.seq);
      this.db.prepare('UPDATE policy_activations SET undone = 0 WHERE seq = ?').run(previous.seq);
      this.meta.setSync(META_POLICY_ACTIVE, previous.version);
      this.audit.appendSync({ at: activation.at, ...audit(current.version, previous.version) });
      return { from: current.version, to: this.versionSync(previous.version) as PolicyVersionRecord };
    })();
  }

  async activePolicy(): Promise<(PolicyVersionRecord & { activatedAt: number }) | null> {
    const version = this.meta.getSync(META_POLICY_ACTIVE);
    if (version === null) return null;
    const record = this.versionSync(version);
    if (!record) return null;
    const stack = this.activationsSync();
    return { ...record, activatedAt: stack[stack.length - 1]?.at ?? record.createdAt };
  }

  async listPolicyVersions(): Promise<PolicyVersionRecord[]> {
    return (this.db.prepare('SELECT version, file, size, source, created_at FROM policy_versions ORDER BY created_at, version').all() as PolicyVersionRow[]).map(toVersion);
  }

  async listPolicyActivations(): Promise<PolicyActivation[]> {
    return this.activationsSync();
  }
}
