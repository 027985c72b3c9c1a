/**
 * IdentityState is the agent's one in-memory copy of identity.json. Every change goes through
 * update(), which writes the new identity atomically (0600) before anyone sees it, one change at a
 * time, so a key rotation and an identity renewal never overwrite each other and a crash leaves
 * either the old or the new file.
 */
import { saveIdentity, type NodeIdentity } from './identity';

export class IdentityState {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly stateDir: string,
    private identity: NodeIdentity,
    private readonly save: (stateDir: string, id: NodeIdentity) => Promise<void> = saveIdentity,
  ) {}

  get(): NodeIdentity {
    return this.identity;
  }

  /** update persists fn(current) and makes it current; a failed write keeps the old identity and rejects. */
  update(fn: (current: NodeIdentity) => NodeIdentity): Promise<NodeIdentity> {
    const run = async () => {
      const next = fn(this.identity);
      await this.save(this.stateDir, next);
      this.identity = next;
      return next;
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }
}
