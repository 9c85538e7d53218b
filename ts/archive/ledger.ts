/**
 * The ledger of changes applied to the live engine: append-only and
 * hash-chained. Each entry's hash covers its fields and the previous entry's
 * hash, so editing, removing, inserting or reordering an entry breaks the
 * chain at that point unless every later hash is recomputed too; the head
 * record (schema.ts) catches a chain cut short or extended at its end.
 * Without a secret nothing stops a complete rewrite of the file: the chain
 * makes tampering visible, and `head()` gives the hash to keep elsewhere
 * to pin it.
 */
import { invalidRangeError, requireInteger } from '../errors.js';
import type { SqlConnection } from './sql-connection.js';
import { GENESIS_HASH, ledgerEntryHash } from './canonical-hash.js';
import { ArchiveError } from './errors.js';
import { LIVE_CHANGING_ACTIONS, type LedgerAction, type LedgerEntry, type LedgerVerification, type NewLedgerEntry } from './types.js';
import { requireId, requireSha256, requireSlot, requireText } from './validate.js';

const ACTIONS: readonly LedgerAction[] = ['apply', 'rollback', 'warm-start', 'restart', 'trial', 'approve', 'reject'];

interface LedgerRow {
  sequence: number;
  action: string;
  slot: string;
  attempt_id: number | null;
  module_sha256: string;
  previous_module_sha256: string;
  at_step: number;
  reason: string;
  recorded_at: string;
  previous_hash: string;
  hash: string;
}

function toEntry(row: LedgerRow): LedgerEntry {
  return {
    sequence: row.sequence,
    action: row.action as LedgerAction,
    slot: row.slot as LedgerEntry['slot'],
    attemptId: row.attempt_id,
    moduleSha256: row.module_sha256,
    previousModuleSha256: row.previous_module_sha256,
    atStep: row.at_step,
    reason: row.reason,
    recordedAt: row.recorded_at,
    previousHash: row.previous_hash,
    hash: row.hash,
  };
}

function short(hash: string): string {
  return `${hash.slice(0, 12)}...`;
}

/** The first reason an entry does not belong where it is, or null. */
function entryFault(entry: LedgerEntry, expectedSequence: number, previousHash: string): string | null {
  if (entry.sequence !== expectedSequence) {
    return entry.sequence > expectedSequence
      ? `it follows entry ${expectedSequence - 1}: ${entry.sequence - expectedSequence === 1 ? `entry ${expectedSequence} was` : `entries ${expectedSequence} to ${entry.sequence - 1} were`} removed`
      : `it is out of order: entry ${expectedSequence} was expected here`;
  }
  if (entry.previousHash !== previousHash) {
    const before = expectedSequence === 1 ? 'the genesis hash (64 zeros)' : `the hash of entry ${expectedSequence - 1} (${short(previousHash)})`;
    return `its previousHash ${short(entry.previousHash)} is not ${before}: an entry before it was edited, removed, inserted or reordered`;
  }
  if (ledgerEntryHash(entry) !== entry.hash) return `its hash ${short(entry.hash)} does not match its contents: the entry was edited after it was appended`;
  if (!ACTIONS.includes(entry.action)) return `its action ${JSON.stringify(entry.action)} is not one of ${ACTIONS.join(', ')}: the entry was forged`;
  return null;
}

export class Ledger {
  /** Made by `Archive.open`; shares the archive's connection. */
  constructor(
    private readonly db: SqlConnection,
    private readonly file: string,
  ) {}

  /** Every entry in sequence order, as stored (call `verify()` to know whether to trust them). */
  entries(): LedgerEntry[] {
    return this.db.all<LedgerRow>('SELECT * FROM ledger ORDER BY sequence').map(toEntry);
  }

  /** The last change recorded for `slot` that changed what is live there (trials not kept and approval decisions did not). */
  latest(slot: LedgerEntry['slot']): LedgerEntry | null {
    requireSlot('slot', slot);
    const row = this.db.get<LedgerRow>(
      `SELECT * FROM ledger WHERE slot = ? AND action IN (${LIVE_CHANGING_ACTIONS.map((action) => `'${action}'`).join(', ')}) ORDER BY sequence DESC LIMIT 1`,
      slot,
    );
    return row ? toEntry(row) : null;
  }

  /** The last entry's sequence and hash (0 and the genesis hash when empty), as the head record holds them. */
  head(): { sequence: number; hash: string } {
    return this.headRecord() ?? { sequence: 0, hash: GENESIS_HASH };
  }

  /**
   * Appends one entry, durable on return. Refuses to extend a ledger whose
   * end no longer matches its head record: a chain that was cut or extended
   * by hand must be looked at, not built upon.
   */
  append(change: NewLedgerEntry): LedgerEntry {
    this.check(change);
    return this.db.transaction(() => {
      const head = this.head();
      const last = this.db.get<LedgerRow>('SELECT * FROM ledger ORDER BY sequence DESC LIMIT 1');
      if ((last?.sequence ?? 0) !== head.sequence || (last?.hash ?? GENESIS_HASH) !== head.hash) {
        throw new ArchiveError(
          `ledger of archive ${this.file} does not end where its head record says (sequence ${head.sequence}): run \`ouroboros ledger verify\`; nothing was appended`,
          this.file,
        );
      }
      const unhashed = {
        sequence: head.sequence + 1,
        action: change.action,
        slot: change.slot,
        attemptId: change.attemptId,
        moduleSha256: change.moduleSha256,
        previousModuleSha256: change.previousModuleSha256,
        atStep: change.atStep,
        reason: change.reason,
        recordedAt: new Date().toISOString(),
        previousHash: head.hash,
      };
      const entry: LedgerEntry = { ...unhashed, hash: ledgerEntryHash(unhashed) };
      this.db.run(
        `INSERT INTO ledger (sequence, action, slot, attempt_id, module_sha256, previous_module_sha256, at_step, reason, recorded_at, previous_hash, hash)
             VALUES (@sequence, @action, @slot, @attemptId, @moduleSha256, @previousModuleSha256, @atStep, @reason, @recordedAt, @previousHash, @hash)`,
        entry,
      );
      this.db.run(
        'INSERT INTO ledger_head (id, sequence, hash) VALUES (1, @sequence, @hash) ON CONFLICT (id) DO UPDATE SET sequence = excluded.sequence, hash = excluded.hash',
        entry,
      );
      return entry;
    });
  }

  /**
   * Recomputes the chain from the first entry and compares its end with the
   * head record. Reports the first entry that does not belong, with why.
   * Relies on nothing but the stored bytes: not on the triggers, which
   * whoever edits the file can drop.
   */
  verify(): LedgerVerification {
    const entries = this.entries();
    const bad = (sequence: number, reason: string): LedgerVerification => ({ ok: false, entries: entries.length, firstBad: { sequence, reason } });
    let previousHash = GENESIS_HASH;
    for (const [index, entry] of entries.entries()) {
      const fault = entryFault(entry, index + 1, previousHash);
      if (fault !== null) return bad(entry.sequence, fault);
      previousHash = entry.hash;
    }
    const head = this.headRecord();
    const count = entries.length;
    if (head === null) {
      return count === 0 ? { ok: true, entries: 0, firstBad: null } : bad(1, 'the ledger has entries but no head record: the head was deleted');
    }
    if (head.sequence < count)
      return bad(head.sequence + 1, `it lies beyond the head the ledger recorded (entry ${head.sequence}): it was not appended by the ledger`);
    if (head.sequence > count)
      return bad(count + 1, `the head records ${head.sequence} entries but the ledger holds ${count}: entries from ${count + 1} on were removed`);
    if (head.hash !== previousHash) return bad(count, `its hash ${short(previousHash)} is not the head's ${short(head.hash)}: the last entry was replaced`);
    return { ok: true, entries: count, firstBad: null };
  }

  private headRecord(): { sequence: number; hash: string } | null {
    return this.db.get<{ sequence: number; hash: string }>('SELECT sequence, hash FROM ledger_head WHERE id = 1') ?? null;
  }

  private check(change: NewLedgerEntry): void {
    if (typeof change !== 'object' || change === null) throw invalidRangeError('change', 'must be a ledger entry object', change);
    if (!ACTIONS.includes(change.action)) throw invalidRangeError('change.action', `must be one of ${ACTIONS.join(', ')}`, change.action);
    requireSlot('change.slot', change.slot);
    if (change.attemptId !== null) {
      requireId('change.attemptId', change.attemptId);
      const attempt = this.db.get<{ slot: string }>('SELECT slot FROM attempts WHERE id = ?', change.attemptId);
      if (!attempt) throw invalidRangeError('change.attemptId', `is not an attempt in archive ${this.file}`, change.attemptId);
      if (attempt.slot !== change.slot)
        throw invalidRangeError('change.attemptId', `is an attempt of slot ${attempt.slot}, not ${change.slot}`, change.attemptId);
    }
    requireSha256('change.moduleSha256', change.moduleSha256);
    requireSha256('change.previousModuleSha256', change.previousModuleSha256);
    requireInteger('change.atStep', change.atStep, 0);
    requireText('change.reason', change.reason);
  }
}
