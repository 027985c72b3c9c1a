/**
 * BatchIdLru remembers the last `capacity` accepted telemetry batch ids, so an agent's retry of a
 * batch the controller already took (the answer was lost) is acknowledged without exporting twice.
 * Ids are scoped by node: one node cannot shadow another's batches.
 */
export class BatchIdLru {
  private readonly ids = new Set<string>();

  constructor(private readonly capacity = 10_000) {}

  /** remember returns false when the id was already there (a duplicate), true when it is new. */
  remember(nodeId: string, batchId: string): boolean {
    const key = `${nodeId}/${batchId}`;
    if (this.ids.has(key)) {
      // Refresh its place: a batch retried again and again stays known.
      this.ids.delete(key);
      this.ids.add(key);
      return false;
    }
    this.ids.add(key);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value as string);
    return true;
  }

  get size(): number {
    return this.ids.size;
  }
}
