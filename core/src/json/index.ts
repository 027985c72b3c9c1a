/** json: canonical JSON, the one sorted-key serialization of core and (through @trellis/core/api) the plugins. */
export { canonicalJson, sortKeysDeep } from './canonical-json';
