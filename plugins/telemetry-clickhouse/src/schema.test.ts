import { allStatements, MIGRATIONS } from './migrations';
import { createTable, probeHistByTime, probeHistByTimeBackfill, probeRollup, RAW_TABLE_SPECS, type SchemaOptions } from './schema';
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
  it('sorts the v5 histogram rollups by time first, with small marks, and moves the v4 views to them', () => {
    const [t1, t10, drop1, drop10, mv1, mv10] = probeHistByTime(base());
    expect(t1).toContain('CREATE TABLE IF NOT EXISTS `trellis`.`tp_probe_hist_by_time_1m`');
    expect(t1).toContain('ORDER BY (bucket, src, dst, path)\nSETTINGS index_granularity = 1024');
    expect(t10).toContain('`tp_probe_hist_by_time_10m`');
    expect([drop1, drop10]).toEqual(['DROP TABLE IF EXISTS `trellis`.`tp_probe_hist_1m_mv`', 'DROP TABLE IF EXISTS `trellis`.`tp_probe_hist_10m_mv`']);
    expect(mv1).toContain('TO `trellis`.`tp_probe_hist_by_time_1m`');
    expect(mv1).toContain('toDateTime(intDiv(toUInt32(ts), 60) * 60) AS bucket');
    expect(mv10).toContain('toDateTime(intDiv(toUInt32(ts), 600) * 600) AS bucket');
  });
  it('backfills v5 from each v4 table while it exists, dropping it last', () => {
    const steps = probeHistByTimeBackfill(base());
    expect(steps.map((s) => s.whileExists)).toEqual(['tp_probe_hist_1m', 'tp_probe_hist_10m']);
    expect(steps[0]!.statements).toEqual([
      'INSERT INTO `trellis`.`tp_probe_hist_by_time_1m` (`bucket`, `src`, `dst`, `path`, `rtt_q`, `samples`, `lost_n`, `jitter_avg`)\n' +
        'SELECT `bucket`, `src`, `dst`, `path`, `rtt_q`, `samples`, `lost_n`, `jitter_avg` FROM `trellis`.`tp_probe_hist_1m`',
      'DROP TABLE IF EXISTS `trellis`.`tp_probe_hist_1m`',
    ]);
    expect(MIGRATIONS.find((m) => m.version === 5)?.backfill).toBe(probeHistByTimeBackfill);
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
    for (const s of allStatements(o).filter((s) => !s.startsWith('INSERT'))) expect(s).toContain('ON CLUSTER `mesh`');
  });
  it('backfills v5 through the Distributed tables, so one server copies every shard, then drops both v4 tables', () => {
    const [step] = probeHistByTimeBackfill(o);
    expect(step!.whileExists).toBe('tp_probe_hist_1m');
    expect(step!.statements[0]).toMatch(/^INSERT INTO `trellis`.`tp_probe_hist_by_time_1m` .*\nSELECT .* FROM `trellis`.`tp_probe_hist_1m`$/);
    expect(step!.statements.slice(1)).toEqual([
      'DROP TABLE IF EXISTS `trellis`.`tp_probe_hist_1m` ON CLUSTER `mesh`',
      'DROP TABLE IF EXISTS `trellis`.`tp_probe_hist_1m_local` ON CLUSTER `mesh`',
    ]);
  });
  it('uses plain engines ON CLUSTER when not replicated', () => {
    const [local] = createTable('node_events', RAW_TABLE_SPECS.node_events, base({ cluster: { name: 'mesh', replicated: false } }));
    expect(local).toContain('ENGINE = ReplacingMergeTree()');
    expect(local).toContain('ON CLUSTER `mesh`');
  });
});
