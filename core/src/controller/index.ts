/**
 * controller: public entry points of the coordination server.
 */
export { startController, parseListen } from './controller';
export type { RunningController, StartControllerOptions } from './controller';
export { buildNetworkMaps, isApproved, isLiveNode, MapBuilder, Mesh, nodeInfoOf } from './map-builder';
export { AccessIndex } from './access-index';
export { applyNodeChanges } from './map-changes';
export type { MeshUpdate, NodeChangesInput } from './map-changes';
export { diffMeshes } from './mesh-diff';
export { mapResponseJson } from './map-response-json';
export type { MapChange } from './mesh-diff';
export { PolicyLibrary, POLICY_DIR } from './policy-library';
export { inputDigest, PostureDecider } from './posture-decider';
export { SETTING_REQUIRE_APPROVAL } from './settings';
export type { MapBuildInput, MeshNode } from './map-builder';
export { MapStreamer } from './map-streamer';
export type { MapSink, MapStreamerOptions, MapStreamerStats } from './map-streamer';
export { composeDeltas } from './delta-history';
export { HTTP_STATUS, statusFor } from './http-errors';
export { newAuthKey, parseAuthKey } from './auth-key-format';
export { ADMIN_TOKEN_FILE } from './admin-token';
export type { ControllerHandle, ControllerOptions } from './types';
