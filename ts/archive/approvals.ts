/**
 * The decisions a person made in approval mode: a candidate that passed
 * every gate waited for them to approve or reject its swap. Each decision
 * is one row here (who, when) and one ledger entry, written in one
 * transaction, so the hash chain holds the same record as the table.
 */
import { invalidRangeError } from '../errors.js';
import type { SqlConnection } from './sql-connection.js';
import type { Ledger } from './ledger.js';
import type { ApprovalDecision, ApprovalRecord, LedgerEntry, NewApproval } from './types.js';
import { requireId, requireSha256, requireText } from './validate.js';

const DECISIONS: readonly ApprovalDecision[] = ['approve', 'reject'];

interface ApprovalRow {
  attempt_id: number;
  decision: string;
  decided_by: string;
  decided_at: string;
  ledger_sequence: number;
}

function toApproval(row: ApprovalRow): ApprovalRecord {
  return {
    attemptId: row.attempt_id,
    decision: row.decision as ApprovalDecision,
    decidedBy: row.decided_by,
    decidedAt: row.decided_at,
    ledgerSequence: row.ledger_sequence,
  };
}

export class ApprovalStore {
  /** Made by `Archive.open`; shares the archive's connection and ledger. */
  constructor(
    private readonly db: SqlConnection,
    private readonly file: string,
    private readonly ledger: Ledger,
  ) {}

  /** Records the decision on one candidate and its ledger entry; a candidate is decided once. */
  record(approval: NewApproval): { approval: ApprovalRecord; entry: LedgerEntry } {
    if (!DECISIONS.includes(approval.decision)) throw invalidRangeError('approval.decision', `must be one of ${DECISIONS.join(', ')}`, approval.decision);
    requireId('approval.attemptId', approval.attemptId);
    requireText('approval.decidedBy', approval.decidedBy, true);
    requireSha256('approval.moduleSha256', approval.moduleSha256);
    requireSha256('approval.incumbentModuleSha256', approval.incumbentModuleSha256);
    return this.db.transaction(() => {
      if (this.get(approval.attemptId) !== null) {
        throw invalidRangeError('approval.attemptId', `was decided already in archive ${this.file}`, approval.attemptId);
      }
      const decidedAt = new Date().toISOString();
      const verb = approval.decision === 'approve' ? 'approved' : 'rejected';
      const entry = this.ledger.append({
        action: approval.decision,
        slot: approval.slot,
        attemptId: approval.attemptId,
        moduleSha256: approval.moduleSha256,
        previousModuleSha256: approval.incumbentModuleSha256,
        atStep: approval.atStep,
        reason: `${verb} by ${approval.decidedBy} at ${decidedAt}`,
      });
      this.db.run(
        'INSERT INTO approvals (attempt_id, decision, decided_by, decided_at, ledger_sequence) VALUES (?, ?, ?, ?, ?)',
        approval.attemptId,
        approval.decision,
        approval.decidedBy,
        decidedAt,
        entry.sequence,
      );
      return {
        approval: { attemptId: approval.attemptId, decision: approval.decision, decidedBy: approval.decidedBy, decidedAt, ledgerSequence: entry.sequence },
        entry,
      };
    });
  }

  /** The decision on attempt `attemptId`, or null when none was asked for or made. */
  get(attemptId: number): ApprovalRecord | null {
    const row = this.db.get<ApprovalRow>('SELECT * FROM approvals WHERE attempt_id = ?', attemptId);
    return row === undefined ? null : toApproval(row);
  }

  /** Every decision, in the order made. */
  list(): ApprovalRecord[] {
    return this.db.all<ApprovalRow>('SELECT * FROM approvals ORDER BY ledger_sequence').map(toApproval);
  }
}
