export { TrellisError } from '../trellis-error';

/**
 * SkipPlugin means "this plugin does not apply here" (for example tc shaping on a kernel without
 * HTB). The runtime logs it and carries on without the plugin; it is not a failure.
 */
export class SkipPlugin extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'SkipPlugin';
  }
}

/** Error codes the plugin runtime itself raises. */
export const PluginErrorCode = {
  DUPLICATE_NAME: 'TRELLIS_ERR_PLUGIN_DUPLICATE_NAME',
  API_RANGE: 'TRELLIS_ERR_PLUGIN_API_RANGE',
  MISSING_DEPENDENCY: 'TRELLIS_ERR_PLUGIN_MISSING_DEPENDENCY',
  DEPENDENCY_CYCLE: 'TRELLIS_ERR_PLUGIN_DEPENDENCY_CYCLE',
  INVALID_CONFIG: 'TRELLIS_ERR_PLUGIN_INVALID_CONFIG',
  NOT_FOUND: 'TRELLIS_ERR_PLUGIN_NOT_FOUND',
  INVALID_PLUGIN: 'TRELLIS_ERR_PLUGIN_INVALID',
  HOOK_FAILED: 'TRELLIS_ERR_PLUGIN_HOOK_FAILED',
  HOOK_TIMEOUT: 'TRELLIS_ERR_PLUGIN_HOOK_TIMEOUT',
  SETUP_FAILED: 'TRELLIS_ERR_PLUGIN_SETUP_FAILED',
  /** A decideAccess result that does not fit api/access.ts (e.g. a grant position out of range). */
  ACCESS_DECISION_INVALID: 'TRELLIS_ERR_PLUGIN_ACCESS_DECISION_INVALID',
} as const;
export type PluginErrorCode = (typeof PluginErrorCode)[keyof typeof PluginErrorCode];
