/**
 * FactsReporter collects the device's facts (collectFacts hooks), decides posture locally
 * (evaluatePosture) and posts both to the controller when they changed. Runs never overlap: a
 * request during a run makes exactly one more run after it.
 */
import type { Logger } from 'pino';
import type { Facts, PostureDecision } from '../api/hooks';
import type { HookRunner } from '../plugins/hook-runner';
import { canonicalJson } from '../json';
import type { FactsRequest } from '../wire';

export interface FactsReporterOptions {
  hooks: HookRunner;
  post: (body: FactsRequest) => Promise<unknown>;
  log: Logger;
  /** True once the node was revoked: nothing is posted any more. */
  revoked: () => boolean;
  stopping: () => boolean;
}

export class FactsReporter {
  private last: PostureDecision | null = null;
  private postedKey: string | null = null;
  private run: Promise<void> | null = null;
  private again = false;

  constructor(private readonly o: FactsReporterOptions) {}

  /** The last local posture decision; null before the first one. */
  get posture(): PostureDecision | null {
    return this.last;
  }

  /** The run in progress, for a stop to wait on. */
  get pending(): Promise<void> | null {
    return this.run;
  }

  /** refresh collects facts and posture now; a call during a run makes one more run after it. */
  refresh(): void {
    if (this.o.stopping()) return;
    if (this.run) {
      this.again = true;
      return;
    }
    this.run = (async () => {
      do {
        this.again = false;
        await this.collectAndPost();
      } while (this.again && !this.o.stopping());
    })().finally(() => (this.run = null));
  }

  private async collectAndPost(): Promise<void> {
    const { hooks, log } = this.o;
    let facts: Facts = {};
    try {
      const results = await hooks.runParallel('collectFacts');
      for (const r of results) if (r && typeof r === 'object') facts = { ...facts, ...r };
      this.last = await hooks.runFirst('evaluatePosture', facts);
    } catch (err) {
      log.error({ err }, 'collecting facts failed');
      return;
    }
    const key = canonicalJson({ facts, posture: this.last });
    if (key === this.postedKey || this.o.revoked()) return;
    try {
      // The wire carries the PostureDecision contract only; extras (a plugin's per-check map) stay local.
      const p = this.last;
      const posture = p ? { compliant: p.compliant, reasons: p.reasons, ...(p.policyVersion !== undefined ? { policyVersion: p.policyVersion } : {}) } : null;
      await this.o.post({ facts, posture });
      this.postedKey = key;
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not report facts; will retry');
    }
  }
}
