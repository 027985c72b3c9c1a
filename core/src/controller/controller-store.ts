import type { AuditSigner } from '../store/audit-chain';
import { errors } from '../errors';
import { PgStore } from '../store/postgres/pg-store';
import { SqliteStore } from '../store/sqlite/sqlite-store';
import type { Store } from '../store/store';

export interface ControllerStoreOptions {
  /** Absent or "sqlite": <dataDir>/trellis.db; postgres://…: a PostgreSQL database several controllers may share. */
  store?: string;
  dataDir: string;
  ipv4Cidr?: string;
  ipv6Prefix?: string;
  auditSigner: AuditSigner;
  auditCheckpointEvery: number;
}

/** openControllerStore opens the store `--store` names; a value that names none is refused. */
export async function openControllerStore(o: ControllerStoreOptions): Promise<Store> {
  const common = { ipv4Cidr: o.ipv4Cidr, ipv6Prefix: o.ipv6Prefix, auditSigner: o.auditSigner, auditCheckpointEvery: o.auditCheckpointEvery };
  if (o.store === undefined || o.store === '' || o.store === 'sqlite') return new SqliteStore({ dataDir: o.dataDir, ...common });
  if (!/^postgres(ql)?:\/\//i.test(o.store)) {
    throw errors.configInvalid('--store', `"${o.store.replace(/\/\/[^@/]*@/, '//***@')}" is neither "sqlite" nor a postgres://user:password@host:port/database URL`);
  }
  return PgStore.open({ url: o.store, ...common });
}
