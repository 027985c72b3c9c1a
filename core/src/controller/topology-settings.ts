/**
 * TopologySettings: the controller's own topology (the policy's, through decideTopology, overrides
 * it). It comes from `controller.settings.topology` in the config file (checked before the
 * controller starts) or from `trellis topology set` (checked against the live nodes: every hub and
 * direct selector must match one), and is kept in the store's settings so it survives restarts.
 * A refused topology changes nothing: the one in force stays.
 */
import { errors, TrellisError } from '../errors';
import type { NodeInfo } from '../api/node-info';
import type { TopologyConfig } from '../api/routes';
import type { Logger } from '../log/logger';
import type { Store } from '../store/store';
import { FULL_MESH_TOPOLOGY, parseTopology, Topology, unmatchedSelectors } from './topology';

export const SETTING_TOPOLOGY = 'settings.topology';

/** readConfigTopology parses `controller.settings.topology` of a config file; undefined when it has none. */
export function readConfigTopology(settings: Record<string, unknown>, file: string): TopologyConfig | undefined {
  if (settings.topology === undefined) return undefined;
  return parseTopology(settings.topology, `${file}: controller.settings.topology`);
}

export class TopologySettings {
  private constructor(
    private readonly store: Store,
    private current: Topology,
  ) {}

  /**
   * open settles the topology at start: the config file's when it gives one (stored, audited when
   * it changes), else the stored one, else the full mesh.
   */
  static async open(store: Store, fromConfig: TopologyConfig | undefined, at: number, log: Pick<Logger, 'error'>): Promise<TopologySettings> {
    const storedText = await store.getMeta(SETTING_TOPOLOGY);
    let stored: TopologyConfig | null = null;
    if (storedText !== null) {
      try {
        stored = parseTopology(JSON.parse(storedText), 'stored setting');
      } catch (err) {
        log.error({ err }, 'the stored topology is unreadable; the full mesh is in force until `trellis topology set`');
      }
    }
    if (fromConfig === undefined) return new TopologySettings(store, stored ? new Topology(stored) : FULL_MESH_TOPOLOGY);
    const text = JSON.stringify(fromConfig);
    if (text !== storedText) {
      await store.setMeta(SETTING_TOPOLOGY, text, { at, action: 'settings.changed', actor: 'controller', details: { topology: fromConfig } });
    }
    return new TopologySettings(store, new Topology(fromConfig));
  }

  /** The controller's topology in force. */
  get topology(): Topology {
    return this.current;
  }

  /**
   * set checks a topology an admin gives against the live nodes and stores it (audited). Throws
   * TOPOLOGY_INVALID naming what is wrong; nothing changes then.
   */
  async set(value: unknown, nodes: readonly NodeInfo[], actor: string, at: number): Promise<Topology> {
    let config: TopologyConfig;
    try {
      config = parseTopology(value, 'topology');
    } catch (err) {
      throw err instanceof TrellisError ? errors.topologyInvalid(err.message.replace(/^invalid config topology: /, '')) : err;
    }
    const unmatched = unmatchedSelectors(config, nodes);
    if (unmatched.length > 0) {
      throw errors.topologyInvalid(`${unmatched.join(', ')} ${unmatched.length === 1 ? 'matches' : 'match'} no node (check \`trellis nodes\` for names and tags)`);
    }
    await this.store.setMeta(SETTING_TOPOLOGY, JSON.stringify(config), { at, action: 'topology.changed', actor, details: { topology: config } });
    this.current = config.mode === 'full' ? FULL_MESH_TOPOLOGY : new Topology(config);
    return this.current;
  }
}
