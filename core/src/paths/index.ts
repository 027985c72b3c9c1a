/**
 * paths: the ways one node can reach a peer (direct endpoints, relays), what each costs, and the
 * pure state machine that picks the pair's path (hysteresis, hold-down, failover). No I/O: the
 * agent's path prober feeds it figures and applies its decisions.
 */
export { DEFAULT_COST_WEIGHTS, pathCost } from './path-cost';
export type { PathCostWeights, PathFigures } from './path-cost';
export { DEFAULT_PATH_CHOICE, INITIAL_PATH_CHOICE, choosePath, isLive } from './path-choice';
export type { PathChoiceConfig, PathChoiceState, PathDecision, PathDeath, PathSwitch, PathSwitchCause } from './path-choice';
