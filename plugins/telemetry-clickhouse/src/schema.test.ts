import { allStatements } from './migrations';
import { createTable, probeRollup, RAW_TABLE_SPECS, type SchemaOptions } from './schema';
import { FEATURES_18_16, FEATURES_CURRENT, featuresForVersion } from './server-features';

const base = (over: Partial<SchemaOptions> = {}): SchemaOptions => ({
  database: 'trellis',
  tablePrefix: 'tp_',
  features: FEATURES_18_16,
  rawRetentionDays: 30,
  rollupRetentionDays: 400,
  ...over,
});

describe('server features', () => {
  it('maps versions to features', () => {
    expect(featuresForVersion('18.16.1')).toMatchObject({ lowCardinality: false, ttl: false, asyncInsert: false });
    expect(featuresForVersion('19.8.3.8')).toMatchObject({ lowCardinality: true, ttl: true, asyncInsert: false });
    expect(featuresForVersion('23.3.1')).toMatchObject({ lowCardinality: true, ttl: true, asyncInsert: true });
    expect(featuresForVersion('garbage')).toMatchObject({ lowCardinality: false, ttl: false, asyncInsert: false });
  });
});

describe('DDL for ClickHouse 18.16', () => {
  const ddl = allStatements(base()).join('\n;\n');
  it('uses neither LowCardinality nor TTL', () => {
    expect(ddl).not.toMatch(/LowCardinality/);
    expect(ddl).not.toMatch(/\bTTL\b/);
  });
  it('creates raw tables as ReplacingMergeTree with filter columns first and time in the key', () => {
    const [probe] = createTable('probe_samples', RAW_TABLE_SPECS.probe_samples, base());
    expect(probe).toContain('CREATE TABLE IF NOT EXISTS `trellis`.`tp_probe_samples`');
    expect(probe).toContain('ENGINE = ReplacingMergeTree()');
    expect(probe).toContain('PARTITION BY toYYYYMMDD(ts)');
    expect(probe).toContain('ORDER BY (src, dst, path, toStartOfMinute(ts), seq, ts)');
    expect(probe).toContain('`src` String');
  });
  it('feeds the one-minute rollup through a materialized view of quantile states', () => {
    const [table, mv] = probeRollup(base());
    expect(table).toContain('ENGINE = AggregatingMergeTree()');
    expect(table).toContain('AggregateFunction(quantilesIf(0.5, 0.95, 0.99), Float64, UInt8)');
    expect(mv).toContain('CREATE MATERIALIZED VIEW IF NOT EXISTS `trellis`.`tp_probe_rollup_1m_mv` TO `trellis`.`tp_probe_rollup_1m`');
    expect(mv).toContain('quantilesIfState(0.5, 0.95, 0.99)(toFloat64(rtt_us), lost = 0)');
  });
  it('has no ON CLUSTER, Replicated or Distributed without a cluster', () => {
    expect(ddl).not.toMatch(/ON CLUSTER|Replicated|Distributed/);
  });
});

describe('DDL for a current ClickHouse', () => {
  const ddl = allStatements(base({ features: FEATURES_CURRENT }));
  it('uses LowCardinality for names and TTL for retention', () => {
    const probe = ddl.find((s) => s.includes('`tp_probe_samples`'))!;
    expect(probe).toContain('`src` LowCardinality(String)');
    expect(probe).toContain('TTL ts + INTERVAL 30 DAY');
    const rollup = ddl.find((s) => s.startsWith('CREATE TABLE') && s.includes('`tp_probe_rollup_1m`'))!;
    expect(rollup).toContain('TTL minute + INTERVAL 400 DAY');
    expect(rollup).toContain('`src` LowCardinality(String)');
  });
});

describe('DDL in cluster mode', () => {
  const o = base({ cluster: { name: 'mesh', replicated: true }, features: FEATURES_CURRENT });
  it('creates Replicated local tables and Distributed tables ON CLUSTER', () => {
    const [local, dist] = createTable('probe_samples', RAW_TABLE_SPECS.probe_samples, o);
    expect(local).toContain('CREATE TABLE IF NOT EXISTS `trellis`.`tp_probe_samples_local` ON CLUSTER `mesh`');
    expect(local).toContain("ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/trellis/tp_probe_samples_local', '{replica}')");
    expect(dist).toBe(
      'CREATE TABLE IF NOT EXISTS `trellis`.`tp_probe_samples` ON CLUSTER `mesh` AS `trellis`.`tp_probe_samples_local`\n' +
        "ENGINE = Distributed(`mesh`, `trellis`, `tp_probe_samples_local`, cityHash64(src, dst))",
    );
  });
  it('puts the rollup view on the local tables and replicates the aggregating target', () => {
    const [table, dist, mv] = probeRollup(o);
    expect(table).toContain("ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/trellis/tp_probe_rollup_1m_local', '{replica}')");
    expect(dist).toContain('ENGINE = Distributed(`mesh`, `trellis`, `tp_probe_rollup_1m_local`');
    expect(mv).toContain('ON CLUSTER `mesh` TO `trellis`.`tp_probe_rollup_1m_local`');
    expect(mv).toContain('FROM `trellis`.`tp_probe_samples_local`');
  });
  it('creates the database and every statement ON CLUSTER', () => {
    for (const s of allStatements(o)) expect(s).toContain('ON CLUSTER `mesh`');
  });
  it('uses plain engines ON CLUSTER when not replicated', () => {
    const [local] = createTable('node_events', RAW_TABLE_SPECS.node_events, base({ cluster: { name: 'mesh', replicated: false } }));
    expect(local).toContain('ENGINE = ReplacingMergeTree()');
    expect(local).toContain('ON CLUSTER `mesh`');
  });
});
