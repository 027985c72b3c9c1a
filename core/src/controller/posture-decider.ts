import { createHash } from 'node:crypto';
import { canonicalJson } from '../json';
import type { Facts, PostureDecision } from '../api/hooks';
import type { Logger } from '../log/logger';
import type { HookRunner } from '../plugins/hook-runner';
import type { AuditEntry, NodeRecord, Store } from '../store/store';
import { isLiveNode } from './map-builder';
import type { MapStreamer } from './map-streamer';

export interface PostureDeciderDeps {
  store: Store;
  hooks: HookRunner;
  streamer: MapStreamer;
  log: Logger;
  clock: () => number;
  audit(entry: AuditEntry): Promise<void>;
}

export interface PostureOutcome {
  /** The decision now stored on the node (the previous one when the engine gave none). */
  posture: PostureDecision | null;
  /** quarantined / restored when compliance changed, else null. */
  transition: 'quarantined' | 'restored' | null;
}

/** inputDigest is the sha256 (hex) of the canonical JSON of a posture input. */
export function inputDigest(facts: Facts): string {
  return createHash('sha256').update(canonicalJson(facts)).digest('hex');
}

const quarantined = (p: PostureDecision | null | undefined): boolean => p !== null && p !== undefined && p.compliant === false;

/**
 * PostureDecider makes the controller's own posture decision from a node's facts (evaluatePosture,
 * with the active policy version); the agent's local decision is only recorded. Every decision is
 * audited with its reasons, policy version and input digest; a change of compliance is audited as
 * posture.quarantine / posture.restore and marks maps dirty, so peers drop or restore the node in
 * the next batch.
 */
export class PostureDecider {
  constructor(private readonly d: PostureDeciderDeps) {}

  async decide(node: NodeRecord, facts: Facts, agentPosture: PostureDecision | null, actor: string): Promise<PostureOutcome> {
    const { store, hooks, streamer } = this.d;
    if (!hooks.has('evaluatePosture')) {
      // No posture engine on the controller: the foundation behaviour (record what the agent said).
      const changed = await store.setFacts(node.id, facts, agentPosture);
      // The posture is part of what deciders and extensions see of the node.
      if (changed) streamer.nodeChanged(node.id, `facts of ${node.name}`);
      return { posture: agentPosture, transition: null };
    }
    const digest = inputDigest(facts);
    const raw = await hooks.runFirst('evaluatePosture', facts);
    if (!raw) {
      await store.setFacts(node.id, facts, node.posture);
      await this.d.audit({
        action: 'posture.error',
        actor,
        target: node.id,
        details: { name: node.name, inputDigest: digest, reason: 'the posture engine gave no decision; the previous decision stays (see the controller log)' },
      });
      return { posture: node.posture, transition: null };
    }
    const decision: PostureDecision = { compliant: raw.compliant, reasons: [...raw.reasons], ...(raw.policyVersion ? { policyVersion: raw.policyVersion } : {}) };
    const was = quarantined(node.posture);
    const now = quarantined(decision);
    await store.setFacts(node.id, facts, decision);
    const details = {
      name: node.name,
      reasons: decision.reasons,
      policyVersion: decision.policyVersion ?? null,
      inputDigest: digest,
      agentDecision: agentPosture ? agentPosture.compliant : null,
    };
    await this.d.audit({ action: decision.compliant ? 'posture.allow' : 'posture.deny', actor, target: node.id, details });
    if (was === now) return { posture: decision, transition: null };
    await this.d.audit({ action: now ? 'posture.quarantine' : 'posture.restore', actor, target: node.id, details });
    streamer.nodeChanged(node.id, `${node.name} ${now ? 'quarantined' : 'restored'}`);
    this.d.log.info({ node: node.name, compliant: decision.compliant, reasons: decision.reasons, policyVersion: decision.policyVersion }, now ? 'node quarantined' : 'node restored');
    return { posture: decision, transition: now ? 'quarantined' : 'restored' };
  }

  /** reevaluateAll re-decides every live node's stored facts, e.g. after the policy version changed. */
  async reevaluateAll(reason: string): Promise<number> {
    if (!this.d.hooks.has('evaluatePosture')) return 0;
    const now = this.d.clock();
    let count = 0;
    for (const node of await this.d.store.listNodes()) {
      if (!isLiveNode(node, now) || node.facts === null) continue;
      try {
        await this.decide(node, node.facts, null, `controller:${reason}`);
        count++;
      } catch (err) {
        this.d.log.error({ err, node: node.name }, 'posture re-evaluation failed');
      }
    }
    return count;
  }
}
