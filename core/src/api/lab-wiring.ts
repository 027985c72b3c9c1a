/**
 * How a plugin joins the services `trellis lab up` runs beside the mesh (a ClickHouse, a Prometheus).
 * The lab's services file (deploy/lab/services.yaml) names the plugins that serve each service; for
 * each running service the lab loads them and asks their `lab.config`, on every side their manifest
 * names, for the entry it merges into the lab's config. Core itself names no plugin.
 */

/** LabServices is what the lab runs beside the mesh this time; a service it does not run is absent. */
export interface LabServices {
  /** Where the lab writes its composed config (the controller's data dir): room for a plugin's own files. */
  configDir: string;
  /** `--clickhouse`: ClickHouse's HTTP interface, and the database when one was given. */
  clickhouse?: { url: string; database?: string };
  /** `--prometheus`: where each side must serve its metrics for the lab's Prometheus to scrape them. */
  prometheus?: { listen: { agent: string; controller: string } };
}

/** The services a lab services file may list plugins under. */
export type LabServiceName = Exclude<keyof LabServices, 'configDir'>;

/** Every LabServiceName, in the order the lab merges their plugins. */
export const LAB_SERVICE_NAMES: readonly LabServiceName[] = ['clickhouse', 'prometheus'];

export interface LabWiring {
  /**
   * config is this plugin's config on one side of the lab, given the running services and what the
   * user's own --config gives the plugin on that side ({} when nothing); null leaves that side out.
   */
  config(side: 'agent' | 'controller', services: LabServices, current: Readonly<Record<string, unknown>>): Record<string, unknown> | null;
}
