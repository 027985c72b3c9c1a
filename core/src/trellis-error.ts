/** TrellisError carries a stable code; messages say what was wrong and what to do about it. */
export class TrellisError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'TrellisError';
  }
}
