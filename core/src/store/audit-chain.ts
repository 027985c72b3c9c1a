/**
 * The audit hash chain, the same for every store: each entry's hash is sha256 over the canonical
 * JSON of the entry (seq, at, action, actor, target, details and the previous entry's hash), and
 * every so often the controller appends a checkpoint entry whose details carry an Ed25519
 * signature over (upTo, head). verifyAuditChain walks the entries and names the first bad one.
 */
import { createHash, verify, type KeyObject } from 'node:crypto';
import { ed25519PublicKey } from '../auth/keys';
import { canonicalJson } from '../json/canonical-json';
import { AUDIT_CHAIN_START_ACTION, AUDIT_CHECKPOINT_ACTION, type AuditEvent, type AuditTamperKind, type AuditVerifyReport } from '../wire';

/** prevHash of the first chained entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** The fields a chained entry's hash covers. */
export interface ChainedFields {
  seq: number;
  at: number;
  action: string;
  actor: string;
  target: string | null;
  details: Record<string, unknown>;
  prevHash: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** auditEntryHash is the hash an entry with these fields must carry. */
export function auditEntryHash(e: ChainedFields): string {
  return sha256(canonicalJson({ seq: e.seq, at: e.at, action: e.action, actor: e.actor, target: e.target, details: e.details, prevHash: e.prevHash }));
}

/** normalizeDetails is the details object exactly as it reads back from storage (JSON round trip). */
export function normalizeDetails(details: Record<string, unknown> | undefined): Record<string, unknown> {
  return JSON.parse(JSON.stringify(details ?? {})) as Record<string, unknown>;
}

/** legacyDigest covers the unchained entries that existed before the chain started, oldest first. */
export function legacyDigest(rows: readonly AuditEvent[]): string {
  const h = createHash('sha256');
  for (const r of rows) h.update(canonicalJson({ seq: r.seq, at: r.at, action: r.action, actor: r.actor, target: r.target, details: r.details })).update('\n');
  return h.digest('hex');
}

/** AuditSigner signs checkpoints with the controller's Ed25519 key. */
export interface AuditSigner {
  /** base64 of the raw 32-byte public key. */
  readonly publicKey: string;
  /** Signature (base64) over the payload. */
  sign(payload: Buffer): string;
}

/** checkpointPayload is what a checkpoint signs: the seq and hash of the newest entry it covers. */
export function checkpointPayload(upTo: number, head: string): Buffer {
  return Buffer.from(canonicalJson({ kind: 'trellis-audit-checkpoint-v1', upTo, head }));
}

/** checkpointDetails builds the details of a checkpoint entry over (upTo, head). */
export function checkpointDetails(signer: AuditSigner, upTo: number, head: string, covered: number): Record<string, unknown> {
  return { upTo, head, covered, key: signer.publicKey, signature: signer.sign(checkpointPayload(upTo, head)) };
}

export interface VerifyOptions {
  /** The controller's public key (base64); without it checkpoint signatures are not checked. */
  publicKey?: string | null;
}

type Bad = { seq: number; kind: AuditTamperKind; message: string };

/** How far a renumbered entry is searched for (entries deleted or inserted before it). */
const RENUMBER_SEARCH = 64;

const plural = (from: number, to: number, what: string) => (to > from ? `entries ${from}..${to} ${what.replace('is', 'are')}` : `entry ${from} ${what}`);

/**
 * AuditChainVerifier walks the entries in seq order, page by page, and names the first bad one.
 * It is given an index of every stored hash to its seq (a first pass over the log), so that it can
 * tell a deletion from an insertion, a move or an edit.
 */
export class AuditChainVerifier {
  private readonly key: KeyObject | null;
  private readonly hashBySeq = new Map<number, string>();
  private readonly legacyRows: AuditEvent[] = [];
  private prev: AuditEvent | null = null;
  private entries = 0;
  private chained = 0;
  private started = false;
  private checkpoints = 0;
  private verified = 0;
  private lastCheckpointSeq: number | null = null;
  private lastCheckpointUpTo: number | null = null;
  private sinceCheckpoint = 0;
  private firstBad: Bad | null = null;

  constructor(
    /** Every stored hash to the seq it is stored at. */
    private readonly index: ReadonlyMap<string, number>,
    opts: VerifyOptions = {},
  ) {
    this.key = opts.publicKey ? ed25519PublicKey(opts.publicKey) : null;
  }

  /** push takes the next entries (seq ascending); it stops looking once the first bad one is found. */
  push(rows: readonly AuditEvent[]): void {
    for (const r of rows) {
      this.entries++;
      if (this.firstBad) continue;
      this.check(r);
      this.prev = r;
    }
  }

  private bad(seq: number, kind: AuditTamperKind, message: string): void {
    this.firstBad ??= { seq, kind, message };
  }

  private check(r: AuditEvent): void {
    const prev = this.prev;
    if (r.hash === null || r.prevHash === null) {
      if (this.started) return this.bad(r.seq, 'inserted', `entry ${r.seq} has no hash, yet it comes after the chain started: it was inserted (or its hash removed)`);
      this.legacyRows.push(r);
      return;
    }
    if (prev && r.seq <= prev.seq) return this.bad(r.seq, 'reordered', `entry ${r.seq} comes after entry ${prev.seq}: the entries are out of order`);
    const first = !this.started;
    if (first) this.startChain(r);
    if (this.firstBad) return;
    const expectedPrev = first ? GENESIS_HASH : prev!.hash!;
    const linked = r.prevHash === GENESIS_HASH ? 0 : this.index.get(r.prevHash);

    if (auditEntryHash({ ...r, prevHash: r.prevHash }) !== r.hash) {
      // A row that was only moved or renumbered still matches its hash under the seq it had.
      if (linked !== undefined && linked + 1 !== r.seq && auditEntryHash({ ...r, seq: linked + 1, prevHash: r.prevHash }) === r.hash) {
        const was = linked + 1;
        if (was < r.seq && prev && prev.seq >= was) {
          return this.bad(was, 'inserted', `${plural(was, r.seq - 1, 'is')} not part of the chain: inserted before entry ${r.seq} (which was entry ${was}), the entries after renumbered`);
        }
        return this.bad(r.seq, 'reordered', `entry ${r.seq} was entry ${was}: the entries were reordered`);
      }
      if (linked === undefined) {
        for (let was = r.seq + 1; was <= r.seq + RENUMBER_SEARCH; was++) {
          if (auditEntryHash({ ...r, seq: was, prevHash: r.prevHash }) === r.hash) {
            return this.bad(r.seq, 'deleted', `entry ${r.seq} was entry ${was}: ${was - r.seq} entr${was - r.seq > 1 ? 'ies' : 'y'} before it were deleted and the rest renumbered`);
          }
        }
      }
      return this.bad(r.seq, 'edited', `entry ${r.seq} (${r.action}) was edited: its content no longer matches its hash`);
    }
    if (r.prevHash !== expectedPrev) {
      if (linked === undefined) {
        if (prev && r.seq > prev.seq + 1) {
          return this.bad(prev.seq + 1, 'deleted', `${plural(prev.seq + 1, r.seq - 1, 'is')} missing: deleted between entry ${prev.seq} and entry ${r.seq}`);
        }
        if (prev) return this.bad(prev.seq, 'edited', `entry ${prev.seq} (${prev.action}) was rewritten with a new hash: entry ${r.seq} links to the hash it had before (or the entry between them was deleted)`);
        return this.bad(r.seq, 'deleted', `entry ${r.seq} links to an entry that is no longer there: the entries before it were deleted`);
      }
      if (prev && linked < prev.seq) {
        return this.bad(linked + 1, 'inserted', `${plural(linked + 1, prev.seq, 'is')} not part of the chain: inserted between entry ${linked} and entry ${r.seq}`);
      }
      return this.bad(r.seq, 'reordered', `entry ${r.seq} links to entry ${linked}, not to entry ${prev?.seq ?? 'none'}: the entries were reordered`);
    }
    this.hashBySeq.set(r.seq, r.hash);
    this.chained++;
    this.sinceCheckpoint++;
    if (r.action === AUDIT_CHECKPOINT_ACTION) this.checkCheckpoint(r);
  }

  private startChain(r: AuditEvent): void {
    this.started = true;
    if (r.prevHash !== GENESIS_HASH) {
      return this.bad(r.seq, 'deleted', `entry ${r.seq} is the first chained entry but links to an earlier one: the entries before it were deleted`);
    }
    if (r.action !== AUDIT_CHAIN_START_ACTION) {
      if (this.legacyRows.length > 0) {
        const a = this.legacyRows[0]!.seq;
        const b = this.legacyRows.at(-1)!.seq;
        this.bad(a, 'inserted', `${b > a ? `entries ${a}..${b} have` : `entry ${a} has`} no hash and no chain start accounts for them: inserted before the chain (or the chain start deleted)`);
      }
      return;
    }
    const legacy = r.details.legacyEntries;
    const digest = r.details.legacyDigest;
    if (typeof legacy === 'number' && legacy !== this.legacyRows.length) {
      this.bad(this.legacyRows[0]?.seq ?? r.seq, 'legacy-edited', `the chain started over ${legacy} older entries, but ${this.legacyRows.length} are there: older entries were deleted or inserted`);
    } else if (typeof digest === 'string' && this.legacyRows.length > 0 && digest !== legacyDigest(this.legacyRows)) {
      this.bad(this.legacyRows[0]!.seq, 'legacy-edited', `one of the ${legacy} entries older than the chain (seq ${this.legacyRows[0]!.seq}..${this.legacyRows.at(-1)!.seq}) was edited: their digest differs from the one the chain start recorded`);
    }
  }

  private checkCheckpoint(r: AuditEvent): void {
    this.checkpoints++;
    const d = r.details as { upTo?: unknown; head?: unknown; signature?: unknown };
    const upTo = typeof d.upTo === 'number' ? d.upTo : NaN;
    const head = typeof d.head === 'string' ? d.head : '';
    const from = (this.lastCheckpointUpTo ?? 0) + 1;
    if (this.hashBySeq.get(upTo) !== head) {
      return this.bad(r.seq, 'bad-checkpoint', `checkpoint ${r.seq} covers entry ${String(d.upTo)} with a hash that entry does not have now: an entry in ${from}..${String(d.upTo)} was changed and the chain rewritten`);
    }
    if (this.key) {
      const sig = typeof d.signature === 'string' ? Buffer.from(d.signature, 'base64') : Buffer.alloc(0);
      if (sig.length !== 64 || !verify(null, checkpointPayload(upTo, head), this.key, sig)) {
        return this.bad(r.seq, 'bad-checkpoint', `checkpoint ${r.seq} is not signed by the controller's key: entries ${from}..${upTo} were rewritten (or the checkpoint forged)`);
      }
      this.verified++;
    }
    this.lastCheckpointSeq = r.seq;
    this.lastCheckpointUpTo = upTo;
    this.sinceCheckpoint = 0;
  }

  finish(): AuditVerifyReport {
    const head = this.prev;
    return {
      ok: this.firstBad === null,
      entries: this.entries,
      chained: this.chained,
      legacy: this.legacyRows.length,
      headSeq: head?.seq ?? null,
      headHash: head?.hash ?? null,
      checkpoints: { total: this.checkpoints, verified: this.verified, signaturesChecked: this.key !== null, lastSeq: this.lastCheckpointSeq },
      unsignedTail: this.sinceCheckpoint,
      firstBad: this.firstBad,
    };
  }
}

/** indexHashes adds each entry's stored hash to the index (the verifier's first pass). */
export function indexHashes(index: Map<string, number>, rows: readonly AuditEvent[]): void {
  for (const r of rows) if (r.hash !== null && !index.has(r.hash)) index.set(r.hash, r.seq);
}

/** verifyAuditChain checks a whole log at once (tests, small logs); stores page through AuditChainVerifier. */
export function verifyAuditChain(rows: readonly AuditEvent[], opts: VerifyOptions = {}): AuditVerifyReport {
  const index = new Map<string, number>();
  indexHashes(index, rows);
  const v = new AuditChainVerifier(index, opts);
  v.push(rows);
  return v.finish();
}

/** How many entries a verification reads at once. */
export const VERIFY_PAGE = 5000;

/**
 * verifyAuditPages verifies a log of any size through its store's readAuditPage: a first pass
 * indexes the stored hashes, the second walks the chain.
 */
export async function verifyAuditPages(readPage: (afterSeq: number, limit: number) => Promise<AuditEvent[]>, opts: VerifyOptions = {}): Promise<AuditVerifyReport> {
  const index = new Map<string, number>();
  for (let after = -1; ; ) {
    const page = await readPage(after, VERIFY_PAGE);
    if (page.length === 0) break;
    indexHashes(index, page);
    after = page.at(-1)!.seq;
  }
  const v = new AuditChainVerifier(index, opts);
  for (let after = -1; ; ) {
    const page = await readPage(after, VERIFY_PAGE);
    if (page.length === 0) break;
    v.push(page);
    after = page.at(-1)!.seq;
  }
  return v.finish();
}
