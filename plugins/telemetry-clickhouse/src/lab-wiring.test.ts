import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { telemetryClickhousePlugin } from './plugin';

describe('telemetry-clickhouse lab wiring', () => {
  const wiring = telemetryClickhousePlugin.lab!;

  it('points the pipeline at the lab ClickHouse, database "trellis" and the spool beside the lab config by default', () => {
    expect(wiring.config('controller', { configDir: '/lab/ctl', clickhouse: { url: 'http://127.0.0.1:8123' } }, {})).toEqual({
      url: 'http://127.0.0.1:8123',
      database: 'trellis',
      spoolDir: join('/lab/ctl', 'clickhouse-spool'),
    });
  });

  it("keeps the user's other options and spool, takes the lab's database over the user's, else the user's", () => {
    const own = { url: 'http://old:1', batchMaxMs: 50, database: 'mine', spoolDir: '/var/spool/x' };
    expect(wiring.config('controller', { configDir: '/c', clickhouse: { url: 'http://127.0.0.1:9000', database: 'lab' } }, own)).toEqual({
      url: 'http://127.0.0.1:9000',
      database: 'lab',
      batchMaxMs: 50,
      spoolDir: '/var/spool/x',
    });
    expect(wiring.config('controller', { configDir: '/c', clickhouse: { url: 'http://127.0.0.1:9000' } }, own)).toMatchObject({ database: 'mine' });
  });

  it('has no part in a lab without ClickHouse', () => {
    expect(wiring.config('controller', { configDir: '/c', prometheus: { listen: { agent: 'a:1', controller: 'c:1' } } }, {})).toBeNull();
  });

  it("is the plugin the repository's lab services file names for clickhouse", () => {
    const file = resolve(__dirname, '..', '..', '..', 'deploy', 'lab', 'services.yaml');
    const listed = /^\s+clickhouse: \[([^\]]*)\]/m.exec(readFileSync(file, 'utf8'))?.[1].split(',').map((n) => n.trim());
    expect(listed).toContain(telemetryClickhousePlugin.manifest.name);
  });
});
