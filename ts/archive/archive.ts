/**
 * The archive: one row per improvement attempt, whatever became of it, in an
 * SQLite file that outlives the process. Every write is one transaction,
 * committed and synced before the method returns, so an attempt the engine
 * was told about survives `kill -9` of the engine; attempts a killed process
 * left pending are found and closed by `markInterrupted()` on resume.
 *
 * One process writes an archive at a time (the engine); others may read it
 * while it runs (WAL).
 */
import { invalidRangeError, requireInteger } from '../errors.js';
import { GATES, type GateName, type Slot } from '../gauntlet/types.js';
import { UPDATE_COLUMNS, toRecord, type AttemptRow } from './attempt-row.js';
import { ApprovalStore } from './approvals.js';
import { RunStore } from './runs.js';
import { rowIntact, sealAttempt } from './row-seal.js';
import { sourceSha256 } from './canonical-hash.js';
import { openDatabase, type SqliteDatabase } from './database.js';
import { ArchiveError } from './errors.js';
import { Ledger } from './ledger.js';
import type { AttemptCounts, AttemptQuery, AttemptRecord, AttemptStatus, AttemptUpdate, NewAttempt } from './types.js';
import {
  ATTEMPT_STATUSES,
  checkAttemptUpdate,
  checkNewAttempt,
  requireId,
  requireSha256,
  requireSlot,
  requireStatus,
  requireText,
  toJson,
} from './validate.js';
import { WarmStartStore } from './warm-start.js';

/** The reason of an interrupted attempt: `markInterrupted` records it, and so does an engine's stop. */
export const INTERRUPTED_REASON = 'interrupted: the run ended before the attempt finished';
/** What `markInterrupted` recorded before attempts had an interrupted status; it relabels such rows. */
export const LEGACY_INTERRUPTED = { status: 'failed', reason: 'interrupted: the process ended before the attempt finished' } as const;

/** The generator and operator of a reference kernel's root record. */
export const REFERENCE_GENERATOR = 'reference';

function now(): string {
  return new Date().toISOString();
}

export class Archive {
  /** The hash-chained ledger of applied changes, in the same file. */
  readonly ledger: Ledger;
  /** The best verified module per slot, with the machine it was verified on. */
  readonly warmStart: WarmStartStore;
  /** The decisions made in approval mode, each also in the ledger. */
  readonly approvals: ApprovalStore;
  /** The runs' samples (bounded per run), for a finished run's charts. */
  readonly runs: RunStore;

  private constructor(
    /** The file as given to `open`. */
    readonly file: string,
    private readonly db: SqliteDatabase,
    /** The schema version the file had when this open migrated it, or null when it needed no migration. */
    readonly migratedFrom: number | null,
  ) {
    this.ledger = new Ledger(db, file);
    this.warmStart = new WarmStartStore(db, file);
    this.approvals = new ApprovalStore(db, file, this.ledger);
    this.runs = new RunStore(db);
  }

  /**
   * Opens the archive in `file`, creating it (and its directory) when it
   * does not exist. Throws an `ArchiveError` naming the file when it is not
   * an SQLite database, is another application's database, or has a schema
   * version this build does not read.
   */
  static open(file: string): Archive {
    requireText('file', file, true);
    const { db, migratedFrom } = openDatabase(file);
    return new Archive(file, db, migratedFrom);
  }

  /**
   * The root record of `slot`: the reference kernel every lineage starts
   * from (parentId null, status applied, speedup 1). Created on the first
   * call, returned as it is afterwards. The reference is known by its
   * source; its module's sha256 depends on the compiler, so a rebuilt
   * reference updates it (the ledger keeps which module was live when).
   */
  ensureRoot(slot: Slot, referenceSource: string, referenceModuleSha256: string): AttemptRecord {
    requireSlot('slot', slot);
    requireText('referenceSource', referenceSource, true);
    requireSha256('referenceModuleSha256', referenceModuleSha256);
    const sha256 = sourceSha256(referenceSource);
    return this.db
      .transaction(() => {
        const root = this.root(slot);
        if (root === null) {
          const createdAt = now();
          return this.insertRow({
            parent_id: null,
            slot,
            generator: REFERENCE_GENERATOR,
            operator: REFERENCE_GENERATOR,
            genome: null,
            prompt: null,
            raw_reply: null,
            source: referenceSource,
            source_sha256: sha256,
            module_sha256: referenceModuleSha256,
            status: 'applied',
            speedup: 1,
            cost_usd: 0,
            created_at: createdAt,
            finished_at: createdAt,
          });
        }
        if (root.sourceSha256 !== sha256) {
          throw new ArchiveError(
            `archive ${this.file}: the reference kernel of slot ${slot} has source sha256 ${sha256}, but the archive's root was recorded ` +
              `from source ${root.sourceSha256}: the archive belongs to another version of the reference kernel; start a new archive`,
            this.file,
          );
        }
        if (root.moduleSha256 === referenceModuleSha256) return root;
        return this.updateAttempt(root.id, { moduleSha256: referenceModuleSha256 });
      })
      .immediate();
  }

  /** The root record of `slot`, or null before `ensureRoot`. */
  root(slot: Slot): AttemptRecord | null {
    requireSlot('slot', slot);
    const row = this.db.prepare<[string], AttemptRow>('SELECT * FROM attempts WHERE slot = ? AND parent_id IS NULL').get(slot);
    return row ? toRecord(this.file, row) : null;
  }

  /**
   * Records a new attempt (status pending unless given), durable on return.
   * Its parent must be an attempt of the same slot; the archive computes
   * sourceSha256 and createdAt.
   */
  insertAttempt(attempt: NewAttempt): AttemptRecord {
    checkNewAttempt(attempt);
    return this.db
      .transaction(() => {
        const parent = this.db.prepare<[number], { slot: string }>('SELECT slot FROM attempts WHERE id = ?').get(attempt.parentId as number);
        if (!parent) throw invalidRangeError('attempt.parentId', `is not an attempt in archive ${this.file}`, attempt.parentId);
        if (parent.slot !== attempt.slot)
          throw invalidRangeError('attempt.parentId', `is an attempt of slot ${parent.slot}, not ${attempt.slot}`, attempt.parentId);
        return this.insertRow({
          parent_id: attempt.parentId,
          slot: attempt.slot,
          generator: attempt.generator,
          operator: attempt.operator,
          genome: attempt.genome === null ? null : toJson('attempt.genome', attempt.genome),
          prompt: attempt.prompt,
          raw_reply: attempt.rawReply ?? null,
          source: attempt.source,
          source_sha256: sourceSha256(attempt.source),
          module_sha256: null,
          status: attempt.status ?? 'pending',
          speedup: null,
          cost_usd: attempt.costUsd ?? 0,
          created_at: now(),
          finished_at: null,
        });
      })
      .immediate();
  }

  /**
   * Changes the given fields of attempt `id`, durable on return, and returns
   * the record as stored. Moving an attempt out of pending stamps finishedAt
   * unless the update sets it or it was set before.
   */
  updateAttempt(id: number, update: AttemptUpdate): AttemptRecord {
    requireId('id', id);
    checkAttemptUpdate(update);
    const assignments: string[] = [];
    const values: Record<string, unknown> = { id };
    for (const [key, value] of Object.entries(update)) {
      if (value === undefined) continue;
      const { column, encode } = UPDATE_COLUMNS[key as keyof AttemptUpdate];
      assignments.push(`${column} = @${column}`);
      values[column] = encode(value);
    }
    if (update.status !== undefined && update.status !== 'pending' && update.finishedAt === undefined) {
      assignments.push('finished_at = COALESCE(finished_at, @stampedAt)');
      values['stampedAt'] = now();
    }
    const statement =
      assignments.length === 0 ? 'SELECT id FROM attempts WHERE id = @id' : `UPDATE attempts SET ${assignments.join(', ')} WHERE id = @id RETURNING id`;
    return this.db
      .transaction(() => {
        const row = this.db.prepare<[Record<string, unknown>], { id: number }>(statement).get(values);
        if (!row) throw invalidRangeError('id', `is not an attempt in archive ${this.file}`, id);
        return toRecord(this.file, assignments.length === 0 ? this.row(id) : sealAttempt(this.db, id));
      })
      .immediate();
  }

  /** Attempt `id`, or null when the archive has none with that id. */
  get(id: number): AttemptRecord | null {
    requireId('id', id);
    const row = this.db.prepare<[number], AttemptRow>('SELECT * FROM attempts WHERE id = ?').get(id);
    return row ? toRecord(this.file, row) : null;
  }

  /** Attempts in id order (root records included), filtered by slot and status. */
  list(query: AttemptQuery = {}): AttemptRecord[] {
    const conditions: string[] = [];
    const values: unknown[] = [];
    if (query.slot !== undefined) {
      conditions.push('slot = ?');
      values.push(requireSlot('query.slot', query.slot));
    }
    if (query.status !== undefined) {
      const statuses = (Array.isArray(query.status) ? query.status : [query.status]) as unknown[];
      statuses.forEach((status, index) => requireStatus(`query.status[${index}]`, status));
      conditions.push(`status IN (${statuses.map(() => '?').join(', ')})`);
      values.push(...statuses);
    }
    // SQLite reads LIMIT -1 as no limit; OFFSET needs a LIMIT clause.
    const limit = query.limit === undefined ? -1 : requireInteger('query.limit', query.limit, 0);
    const offset = query.offset === undefined ? 0 : requireInteger('query.offset', query.offset, 0);
    const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    return this.db
      .prepare<unknown[], AttemptRow>(`SELECT * FROM attempts ${where} ORDER BY id LIMIT ? OFFSET ?`)
      .all(...values, limit, offset)
      .map((row) => toRecord(this.file, row));
  }

  /**
   * How many children each attempt of `slot` has, whatever became of them
   * (parent selection weighs 1 / (1 + children)); attempts without children
   * are absent.
   */
  childCounts(slot: Slot): Map<number, number> {
    requireSlot('slot', slot);
    const rows = this.db
      .prepare<[string], { parent_id: number; children: number }>(
        'SELECT parent_id, COUNT(*) AS children FROM attempts WHERE slot = ? AND parent_id IS NOT NULL GROUP BY parent_id',
      )
      .all(slot);
    return new Map(rows.map((row) => [row.parent_id, row.children]));
  }

  /** Attempts by status and by the gate that stopped them, over all slots or one. */
  counts(slot?: Slot): AttemptCounts {
    const filter = slot === undefined ? '' : 'AND slot = ?';
    const values = slot === undefined ? [] : [requireSlot('slot', slot)];
    const byStatus = Object.fromEntries(ATTEMPT_STATUSES.map((status) => [status, 0])) as Record<AttemptStatus, number>;
    const byFailedGate = Object.fromEntries(GATES.map((gate) => [gate, 0])) as Record<GateName, number>;
    const statusRows = this.db
      .prepare<unknown[], { status: AttemptStatus; n: number }>(
        `SELECT status, COUNT(*) AS n FROM attempts WHERE parent_id IS NOT NULL ${filter} GROUP BY status`,
      )
      .all(...values);
    for (const row of statusRows) byStatus[row.status] = row.n;
    const gateRows = this.db
      .prepare<unknown[], { gate: GateName; n: number }>(
        `SELECT failed_gate AS gate, COUNT(*) AS n FROM attempts WHERE parent_id IS NOT NULL AND failed_gate IS NOT NULL ${filter} GROUP BY failed_gate`,
      )
      .all(...values);
    for (const row of gateRows) byFailedGate[row.gate] = row.n;
    return { total: statusRows.reduce((sum, row) => sum + row.n, 0), byStatus, byFailedGate };
  }

  /**
   * Closes every attempt still pending as interrupted, with the reason that
   * the process ended first; returns how many. A resumed run calls it before
   * it starts attempts of its own: a pending attempt is then one that a
   * killed process never finished. An engine that stops in order records
   * its own attempts in flight as interrupted in the same way, so a killed
   * run and a stopped one read alike. Attempts an older build closed as
   * failed for this reason (LEGACY_INTERRUPTED) are relabelled interrupted
   * too: neither says anything about the kernel.
   */
  markInterrupted(): number {
    return this.db
      .transaction(() => {
        const relabelled = this.db
          .prepare<[string, string], { id: number }>("UPDATE attempts SET status = 'interrupted' WHERE status = ? AND reason = ? RETURNING id")
          .all(LEGACY_INTERRUPTED.status, LEGACY_INTERRUPTED.reason);
        const closed = this.db
          .prepare<[string, string], { id: number }>(
            "UPDATE attempts SET status = 'interrupted', reason = ?, finished_at = ? WHERE status = 'pending' RETURNING id",
          )
          .all(INTERRUPTED_REASON, now());
        for (const { id } of [...relabelled, ...closed]) sealAttempt(this.db, id);
        return closed.length;
      })
      .immediate();
  }

  /**
   * Whether attempt `id`'s row still matches the content hash written with
   * it (row-seal.ts): "edited" when something changed it outside the
   * archive; null when there is no such attempt.
   */
  integrity(id: number): 'intact' | 'edited' | null {
    requireId('id', id);
    const row = this.db.prepare<[number], AttemptRow>('SELECT * FROM attempts WHERE id = ?').get(id);
    if (row === undefined) return null;
    return rowIntact(row) ? 'intact' : 'edited';
  }

  /** The ids of every attempt whose row no longer matches its content hash, in id order. */
  editedAttempts(): number[] {
    return this.db
      .prepare<[], AttemptRow>('SELECT * FROM attempts ORDER BY id')
      .all()
      .filter((row) => !rowIntact(row))
      .map((row) => row.id);
  }

  /**
   * SQLite's own check of the file's pages and indexes (PRAGMA quick_check):
   * the problems it reports, none when the file is sound.
   */
  fileProblems(): string[] {
    const rows = this.db.prepare<[], { quick_check: string }>('PRAGMA quick_check').all();
    return rows.map((row) => row.quick_check).filter((text) => text !== 'ok');
  }

  /** Closes the file; the archive cannot be used afterwards. */
  close(): void {
    this.db.close();
  }

  private row(id: number): AttemptRow {
    return this.db.prepare<[number], AttemptRow>('SELECT * FROM attempts WHERE id = ?').get(id)!;
  }

  /** Inside the caller's transaction, which also seals the row. */
  private insertRow(
    row: Omit<AttemptRow, 'id' | 'module_path' | 'gates' | 'failed_gate' | 'reason' | 'benchmark' | 'bench_ratio' | 'live_mlups' | 'row_sha256'>,
  ): AttemptRecord {
    const inserted = this.db
      .prepare<[typeof row], { id: number }>(
        `INSERT INTO attempts (parent_id, slot, generator, operator, genome, prompt, source, source_sha256, module_sha256, module_path,
           gates, failed_gate, reason, benchmark, bench_ratio, live_mlups, speedup, status, cost_usd, created_at, finished_at, raw_reply)
         VALUES (@parent_id, @slot, @generator, @operator, @genome, @prompt, @source, @source_sha256, @module_sha256, NULL,
           '[]', NULL, '', NULL, NULL, NULL, @speedup, @status, @cost_usd, @created_at, @finished_at, @raw_reply)
         RETURNING id`,
      )
      .get(row)!;
    return toRecord(this.file, sealAttempt(this.db, inserted.id));
  }
}
