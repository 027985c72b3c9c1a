/**
 * StreamCap bounds the map streams one node holds open: admitting one more than the cap closes the
 * node's oldest. A node needs one stream; a reconnecting agent may briefly hold two, and a node (or
 * a stolen identity) cannot pile up streams that each cost the controller a connection and a sink.
 */
export class StreamCap {
  private readonly open = new Map<string, Array<{ close: () => void }>>();
  private replacedCount = 0;

  constructor(private readonly maxPerNode: number) {}

  /** admit registers an open stream; the returned function forgets it when it closes. */
  admit(nodeId: string, close: () => void): () => void {
    const entry = { close };
    let list = this.open.get(nodeId);
    if (!list) this.open.set(nodeId, (list = []));
    list.push(entry);
    while (list.length > this.maxPerNode) {
      const oldest = list.shift()!;
      this.replacedCount++;
      oldest.close();
    }
    return () => {
      const l = this.open.get(nodeId);
      if (!l) return;
      const i = l.indexOf(entry);
      if (i >= 0) l.splice(i, 1);
      if (l.length === 0) this.open.delete(nodeId);
    };
  }

  /** Streams closed because a newer one of the same node arrived. */
  get replaced(): number {
    return this.replacedCount;
  }
}
