import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { metricsPrometheusPlugin } from './plugin';

describe('metrics-prometheus lab wiring', () => {
  const wiring = metricsPrometheusPlugin.lab!;
  const services = { configDir: '/c', prometheus: { listen: { controller: '198.18.0.1:4000', agent: '0.0.0.0:9464' } } };

  it("serves each side where the lab's Prometheus scrapes it, over the user's listen address", () => {
    expect(wiring.config('agent', services, { listen: '127.0.0.1:1' })).toEqual({ listen: '0.0.0.0:9464' });
    expect(wiring.config('controller', services, {})).toEqual({ listen: '198.18.0.1:4000' });
  });

  it('has no part in a lab without Prometheus', () => {
    expect(wiring.config('agent', { configDir: '/c', clickhouse: { url: 'http://x:8123' } }, {})).toBeNull();
  });

  it("is the plugin the repository's lab services file names for prometheus", () => {
    const file = resolve(__dirname, '..', '..', '..', 'deploy', 'lab', 'services.yaml');
    const listed = /^\s+prometheus: \[([^\]]*)\]/m.exec(readFileSync(file, 'utf8'))?.[1].split(',').map((n) => n.trim());
    expect(listed).toContain(metricsPrometheusPlugin.manifest.name);
  });
});
