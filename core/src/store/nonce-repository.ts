/** Nonces of signed node requests, kept for the timestamp window so a replay is refused, also across restarts. */
export interface NonceRepository {
  /** consumeNonce records a nonce; false when it was seen before (a replay). */
  consumeNonce(nodeId: string, nonce: string, expiresAt: number): Promise<boolean>;
  /** purgeNonces drops nonces whose timestamp window has passed; returns how many. */
  purgeNonces(now: number): Promise<number>;
}
