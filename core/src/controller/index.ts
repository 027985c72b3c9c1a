/**
 * controller: public entry points of the coordination server.
 */
export { startController, parseListen } from './controller';
export type { RunningController, StartControllerOptions } from './controller';
export { buildNetworkMaps, isApproved, isLiveNode, MapBuilder, nodeInfoOf } from './map-builder';
export { PolicyLibrary, POLICY_DIR } from './policy-library';
export { inputDigest, PostureDecider } from './posture-decider';
export { SETTING_REQUIRE_APPROVAL } from './settings';
export type { MapBuildInput, MapBuildOutput } from './map-builder';
export { MapStreamer } from './map-streamer';
export type { MapSink, MapStreamerOptions, MapStreamerStats } from './map-streamer';
export { composeDeltas } from './delta-history';
export { HTTP_STATUS, statusFor } from './http-errors';
export { newAuthKey, parseAuthKey } from './auth-key-format';
export { ADMIN_TOKEN_FILE } from './admin-token';
export type { ControllerHandle, ControllerOptions } from './types';
