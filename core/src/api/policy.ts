/**
 * Policy engine contract: how a controller plugin plugs its policy compiler and evaluator
 * into the controller's policy lifecycle. The controller owns versions (stored bundles, the active
 * pointer, rollback); the engine owns the language (compile, test, validate, explain).
 */

/** A policy pushed by an admin: source files by relative path (e.g. access/access.rego, access/data.json). */
export interface PolicySource {
  files: Record<string, string>;
  /** Where it came from (the pushed dir), used in messages instead of temp paths. */
  source: string;
}

/** PreparedPolicy is a compiled, tested bundle ready to be stored and activated. */
export interface PreparedPolicy {
  /** The bundle bytes, in the engine's own format (an OPA engine: opa's gzip'd tar). */
  bundle: Buffer;
  /** sha256 of bundle, hex: the policy version id. */
  version: string;
  /** What the tests printed, for the admin. */
  testSummary: string;
}

/** One side of an access question, as the controller knows it. */
export interface AccessPrincipal {
  /** Node name, or the user name when asking about a user without a node. */
  name: string;
  user: string | null;
  groups: string[];
  tags: string[];
  /** The node's overlay IPv4, null for a user. */
  ip: string | null;
  quarantined: boolean;
}

export interface AccessQuestion {
  src: AccessPrincipal;
  dst: AccessPrincipal;
  proto: 'tcp' | 'udp' | 'icmp';
  port: number | null;
}

export interface AccessAnswer {
  allow: boolean;
  /** The rules (or the default) that produced the decision, for people. */
  reasons: string[];
  policyVersion: string;
}

/** PolicyEngine is registered by a plugin in setup; its methods throw TrellisErrors with the engine's own words. */
export interface PolicyEngine {
  /** Compile and test a pushed policy; throws (compile or test failure) and stores nothing. */
  prepare(source: PolicySource): Promise<PreparedPolicy>;
  /** Check that stored or uploaded bundle bytes load; throws when they do not. */
  validate(bundle: Buffer, source: string): Promise<{ version: string }>;
  /** Answer one access question with the active policy. */
  explain(question: AccessQuestion): Promise<AccessAnswer>;
}

/** The active policy version and its bundle bytes. */
export interface ActivePolicy {
  version: string;
  bundle: Buffer;
  activatedAt: number;
}

/** ControllerPolicyAccess: the controller's policy versions, as a plugin sees them. */
export interface ControllerPolicyAccess {
  registerEngine(engine: PolicyEngine): void;
  /** The active version (cached in memory; changes on push and rollback), or null before the first one. */
  active(): ActivePolicy | null;
  /** seed stores bytes as the first version when none is stored yet; returns the active version either way. */
  seed(bundle: Buffer, source: string): Promise<ActivePolicy>;
}
