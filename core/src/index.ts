/**
 * @trellis/core: the runtime. Plugins import only `@trellis/core/api`; this entry is for
 * embedding the controller and agent (tests, the lab, benchmarks).
 */
export { definePlugin, PLUGIN_API_VERSION, SkipPlugin, TrellisError } from './api';
export { ErrorCode, errors } from './errors';
export { loadPluginHost, PluginHost } from './plugins/plugin-host';
export type { HookRunner } from './plugins/hook-runner';
export { noHooks } from './plugins/hook-runner';
export { diffMaps, applyMapResponse } from './netmap/delta';
export type { MapResponse, NetworkMap, NetworkMapData } from './netmap/types';
