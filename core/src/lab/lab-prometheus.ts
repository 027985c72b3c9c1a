/**
 * The lab's Prometheus (`trellis lab up --prometheus`): Debian's prometheus server in the root
 * namespace, scraping every agent's metrics endpoint across the bridge (the agents
 * listen on 0.0.0.0:9464 in their own namespaces) and the controller's, from a scrape config the
 * lab writes. Agents are a file_sd target list the lab rewrites as nodes come, so Prometheus picks
 * up `trellis lab add` without a restart. The shipped rules (dashboards/prometheus/trellis-rules.yml)
 * are loaded when found. `trellis lab down` stops it and removes its directory.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { errors } from '../errors';
import { cmdlineOf, isAlive, sleep, spawnDetached } from './process-group';
import type { LabNodeState, LabPrometheusState } from './lab-state';

/** Where every lab agent serves /metrics, inside its namespace. */
export const LAB_AGENT_METRICS_PORT = 9464;
/** The lab's Prometheus listens here unless told otherwise. */
export const DEFAULT_LAB_PROMETHEUS_LISTEN = '127.0.0.1:9090';
/** The scrape config's file name: also how `lab down` recognises a lab Prometheus left behind. */
export const LAB_PROMETHEUS_CONFIG = 'trellis-lab-prometheus.yml';
/** Scrape (and rule evaluation) interval in the lab: short, so a fresh lab shows data soon. */
export const LAB_SCRAPE_INTERVAL_S = 5;

export interface LabPrometheusOptions {
  /** host:port of Prometheus' web UI and API; default 127.0.0.1:9090. */
  listen?: string;
  /** Rules file to load; default the repository's dashboards/prometheus/trellis-rules.yml when present. */
  rulesFile?: string;
}

/** defaultRulesFile is dashboards/prometheus/trellis-rules.yml of the checkout the CLI runs from. */
export function defaultRulesFile(cliPath: string): string | null {
  const file = resolve(dirname(cliPath), '..', '..', '..', 'dashboards', 'prometheus', 'trellis-rules.yml');
  return existsSync(file) ? file : null;
}

/** prometheusBinary finds `prometheus` on PATH (Debian's package, installed by scripts/setup.sh). */
export function prometheusBinary(env: NodeJS.ProcessEnv = process.env): string {
  for (const d of (env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    const p = join(d, 'prometheus');
    if (d !== '' && existsSync(p)) return p;
  }
  throw errors.lab('no prometheus binary on PATH; install it with `bash scripts/setup.sh` (Debian package prometheus)');
}

/** labPrometheusState lays out where the lab's Prometheus keeps its files. */
export function labPrometheusState(labDir: string, listen: string, controllerTarget: string, rulesFile: string | null): LabPrometheusState {
  const dir = join(labDir, 'prometheus');
  return {
    listen,
    url: `http://${listen}`,
    pid: null,
    dir,
    configFile: join(dir, LAB_PROMETHEUS_CONFIG),
    agentTargetsFile: join(dir, 'agent-targets.json'),
    controllerTarget,
    rulesFile,
    log: join(labDir, 'logs', 'prometheus.log'),
  };
}

/** scrapeConfig is the prometheus.yml of the lab: the controller statically, agents from the file. */
export function scrapeConfig(p: LabPrometheusState): string {
  const q = (s: string) => JSON.stringify(s);
  return [
    `# Written by trellis lab up --prometheus; removed by trellis lab down.`,
    `global:`,
    `  scrape_interval: ${LAB_SCRAPE_INTERVAL_S}s`,
    `  scrape_timeout: ${LAB_SCRAPE_INTERVAL_S - 1}s`,
    `  evaluation_interval: ${LAB_SCRAPE_INTERVAL_S}s`,
    ...(p.rulesFile ? [`rule_files:`, `  - ${q(p.rulesFile)}`] : []),
    `scrape_configs:`,
    `  - job_name: trellis-controller`,
    `    static_configs:`,
    `      - targets: [${q(p.controllerTarget)}]`,
    `  - job_name: trellis-agent`,
    `    file_sd_configs:`,
    `      - files: [${q(p.agentTargetsFile)}]`,
    `        refresh_interval: ${LAB_SCRAPE_INTERVAL_S}s`,
    '',
  ].join('\n');
}

function writeAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** writeAgentTargets rewrites the file_sd list: one target per node, at its underlay address. */
export function writeAgentTargets(p: LabPrometheusState, nodes: readonly Pick<LabNodeState, 'underlay'>[]): void {
  // No target labels: each series already names its node (the node label of the exposition).
  const groups = nodes.map((n) => ({ targets: [`${n.underlay}:${LAB_AGENT_METRICS_PORT}`] }));
  writeAtomic(p.agentTargetsFile, JSON.stringify(groups, null, 2) + '\n');
}

/**
 * startPrometheus writes the scrape config, starts prometheus detached (its own TSDB in the lab
 * directory) and waits until it answers /-/ready; a port in use or a bad config fails naming the log.
 */
export async function startPrometheus(p: LabPrometheusState, nodes: readonly Pick<LabNodeState, 'underlay'>[], env: NodeJS.ProcessEnv): Promise<number> {
  const bin = prometheusBinary(env);
  writeAtomic(p.configFile, scrapeConfig(p));
  writeAgentTargets(p, nodes);
  mkdirSync(join(p.dir, 'data'), { recursive: true });
  const pid = await spawnDetached(
    bin,
    [
      `--config.file=${p.configFile}`,
      `--storage.tsdb.path=${join(p.dir, 'data')}`,
      `--web.listen-address=${p.listen}`,
      '--storage.tsdb.retention.time=1d',
      '--log.level=warn',
    ],
    p.log,
    env,
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (!isAlive(pid)) throw errors.lab(`prometheus exited during start (is ${p.listen} free? pass --prometheus-listen); see ${p.log}`);
    try {
      const res = await fetch(`${p.url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return pid;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw errors.lab(`prometheus did not answer ${p.url}/-/ready within 30s; see ${p.log}`);
    await sleep(100);
  }
}

/** isLabPrometheus guards against pid reuse: only a prometheus running a lab scrape config is ours. */
export function isLabPrometheus(pid: number | null): boolean {
  if (pid === null || !isAlive(pid)) return false;
  const argv = cmdlineOf(pid);
  return argv !== null && /(^|\/)prometheus$/.test(argv[0] ?? '') && argv.some((a) => a.startsWith('--config.file=') && a.endsWith(`/${LAB_PROMETHEUS_CONFIG}`));
}

/** strayLabPrometheusPids finds lab Prometheus servers by their scrape config's name, e.g. from a lab whose state is gone. */
export function strayLabPrometheusPids(): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid)
    .map(Number)
    .filter((pid) => isLabPrometheus(pid));
}
