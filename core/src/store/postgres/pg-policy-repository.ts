import { errors } from '../../errors';
import type { AuditEntry } from '../audit-repository';
import type { PolicyActivation, PolicyRepository, PolicyVersionRecord } from '../policy-repository';
import { META_POLICY_ACTIVE, toVersion, type PolicyVersionRow } from '../store-rows';
import type { PgAuditRepository } from './pg-audit-repository';
import type { PgDatabase, PgQuery } from './pg-database';
import type { PgMetaRepository } from './pg-meta-repository';

const VERSION_COLUMNS = 'version, file, size, source, created_at';

export class PgPolicyRepository implements PolicyRepository {
  constructor(
    private readonly db: PgDatabase,
    private readonly meta: PgMetaRepository,
    private readonly audit: PgAuditRepository,
  ) {}

  private async version(q: PgQuery, version: string): Promise<PolicyVersionRecord | null> {
    const r = await q.row<PolicyVersionRow>(`SELECT ${VERSION_COLUMNS} FROM policy_versions WHERE version = $1`, [version]);
    return r ? toVersion(r) : null;
  }

  private activations(q: PgQuery): Promise<PolicyActivation[]> {
    return q.rows<PolicyActivation>('SELECT seq, version, at, actor, kind FROM policy_activations WHERE undone = 0 ORDER BY seq');
  }

  async activatePolicy(version: PolicyVersionRecord, activation: { at: number; actor: string; kind: string }, audit: AuditEntry, bundle?: Buffer): Promise<void> {
    await this.db.write(async (tx) => {
      await tx.run(`INSERT INTO policy_versions (${VERSION_COLUMNS}, bundle) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, [
        version.version,
        version.file,
        version.size,
        version.source,
        version.createdAt,
        bundle ?? null,
      ]);
      if (bundle) await tx.run('UPDATE policy_versions SET bundle = $1 WHERE version = $2 AND bundle IS NULL', [bundle, version.version]);
      await tx.run('INSERT INTO policy_activations (version, at, actor, kind) VALUES ($1, $2, $3, $4)', [version.version, activation.at, activation.actor, activation.kind]);
      await this.meta.setIn(tx, META_POLICY_ACTIVE, version.version);
      await this.audit.appendIn(tx, audit);
      tx.notify({ kind: 'policy', version: version.version, reason: `policy ${activation.kind} ${version.version.slice(0, 12)}` });
    });
  }

  async rollbackPolicy(activation: { at: number; actor: string }, audit: (from: string, to: string) => AuditEntry): Promise<{ from: string; to: PolicyVersionRecord }> {
    return this.db.write(async (tx) => {
      const stack = await this.activations(tx);
      const current = stack[stack.length - 1];
      const previous = [...stack].reverse().find((a) => current && a.version !== current.version);
      if (!current || !previous) throw errors.policyNoPrevious(current?.version ?? null);
      // Undo every activation after the previous version's, so a second rollback goes further back.
      await tx.run('UPDATE policy_activations SET undone = 1 WHERE seq > $1 AND undone = 0', [previous.seq]);
      await tx.run('UPDATE policy_activations SET undone = 0 WHERE seq = $1', [previous.seq]);
      await this.meta.setIn(tx, META_POLICY_ACTIVE, previous.version);
      await this.audit.appendIn(tx, { at: activation.at, ...audit(current.version, previous.version) });
      tx.notify({ kind: 'policy', version: previous.version, reason: `policy rollback to ${previous.version.slice(0, 12)}` });
      return { from: current.version, to: (await this.version(tx, previous.version)) as PolicyVersionRecord };
    });
  }

  async policyBundle(version: string): Promise<Buffer | null> {
    const r = await this.db.query.row<{ bundle: Buffer | null }>('SELECT bundle FROM policy_versions WHERE version = $1', [version]);
    return r?.bundle ?? null;
  }

  async activePolicy(): Promise<(PolicyVersionRecord & { activatedAt: number }) | null> {
    const q = this.db.query;
    const version = await this.meta.getIn(q, META_POLICY_ACTIVE);
    if (version === null) return null;
    const record = await this.version(q, version);
    if (!record) return null;
    const stack = await this.activations(q);
    return { ...record, activatedAt: stack[stack.length - 1]?.at ?? record.createdAt };
  }

  async listPolicyVersions(): Promise<PolicyVersionRecord[]> {
    return (await this.db.query.rows<PolicyVersionRow>(`SELECT ${VERSION_COLUMNS} FROM policy_versions ORDER BY created_at, version COLLATE "C"`)).map(toVersion);
  }

  listPolicyActivations(): Promise<PolicyActivation[]> {
    return this.activations(this.db.query);
  }
}
