/**
 * assign: the controller side. Picks each node's ShapingProfile from the config's rules; the
 * plugin's mapExtension hook hands it to core, which puts it in the node's NetworkMap under
 * extensions['shaping-tc'].
 */
import type { NodeInfo } from '@trellis/core/api';
import { shapingErrors } from './errors';
import { validateProfile, type ShapingProfile } from './profile';

export const EXTENSION_KEY = 'shaping-tc';

/** One assignment rule; every field given must match. `group` matches the node's user or a `group:<g>` tag. */
export interface AssignRule {
  tag?: string;
  group?: string;
  node?: string;
  profile: string;
}

export interface ShapingConfig {
  profiles: Record<string, ShapingProfile>;
  assign: AssignRule[];
  /** Profile for nodes no rule matches; none means such nodes are not shaped. */
  default?: string;
}

/** What travels in the map: the node's profile, whole, so the agent needs nothing else. */
export interface ShapingExtension {
  profile: ShapingProfile;
}

/** checkConfig refuses a config whose profiles are invalid or whose rules name unknown profiles. */
export function checkConfig(config: ShapingConfig): ShapingConfig {
  const problems: string[] = [];
  for (const [key, profile] of Object.entries(config.profiles ?? {})) {
    const errs = validateProfile(profile);
    if (errs.length > 0) problems.push(`profile "${key}": ${errs.join('; ')}`);
    else if (profile.name !== key) problems.push(`profile "${key}" has name "${profile.name}"; the name must equal its key`);
  }
  (config.assign ?? []).forEach((rule, i) => {
    if (rule.tag === undefined && rule.group === undefined && rule.node === undefined) problems.push(`assign[${i}] needs a tag, group or node to match`);
    if (!config.profiles?.[rule.profile]) problems.push(`assign[${i}] names unknown profile "${rule.profile}"`);
  });
  if (config.default !== undefined && !config.profiles?.[config.default]) problems.push(`default names unknown profile "${config.default}"`);
  if (problems.length > 0) throw shapingErrors.configInvalid(problems.join('; '));
  return config;
}

/** What assignment reads of a node. */
export type AssignableNode = Pick<NodeInfo, 'id' | 'name' | 'tags' | 'user'>;

function ruleMatches(rule: AssignRule, self: AssignableNode): boolean {
  if (rule.tag !== undefined && !self.tags.includes(rule.tag)) return false;
  if (rule.node !== undefined && rule.node !== self.name && rule.node !== self.id) return false;
  if (rule.group !== undefined && self.user !== rule.group && !self.tags.includes(`group:${rule.group}`)) return false;
  return true;
}

/** profileFor picks the first matching rule's profile, else the default, else null. */
export function profileFor(config: ShapingConfig, self: AssignableNode): ShapingProfile | null {
  const rule = config.assign.find((r) => ruleMatches(r, self));
  const name = rule?.profile ?? config.default;
  return name !== undefined ? (config.profiles[name] ?? null) : null;
}

/**
 * profileExtensions gives each node's extension under a config: the node's profile, or null when
 * none applies (the map then has no shaping-tc key). One frozen extension per profile is shared by
 * every node that has it, so a 10,000-node build holds a handful of them.
 */
export function profileExtensions(config: ShapingConfig): (node: AssignableNode) => ShapingExtension | null {
  const shared = new Map<ShapingProfile, ShapingExtension>();
  return (node) => {
    const profile = profileFor(config, node);
    if (!profile) return null;
    let ext = shared.get(profile);
    if (!ext) shared.set(profile, (ext = deepFreeze({ profile: structuredClone(profile) })));
    return ext;
  };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}
