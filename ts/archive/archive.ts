/**
 * The archive: one row per improvement attempt, whatever became of it, in an
 * SQLite file that outlives the process (the default) or in a PostgreSQL
 * database a fleet shares (`archive.url`). Every write is one transaction,
 * committed before the method returns, so an attempt the engine was told
 * about survives `kill -9` of the engine; attempts a killed process left
 * pending are found and closed by `markInterrupted()` once their owner is
 * gone (owners.ts).
 *
 * Several engines may write one archive: write transactions take turns
 * (sql-connection.ts), so the ledger stays one chain; readers run beside
 * them.
 */
import os from 'node:os';
import { invalidRangeError, requireInteger } from '../errors.js';
import { GATES, type GateName, type Slot } from '../gauntlet/types.js';
import { UPDATE_COLUMNS, toRecord, type AttemptRow } from './attempt-row.js';
import { ApprovalStore } from './approvals.js';
import { AttemptCostStore } from './attempt-costs.js';
import { BaselineStore } from './baselines.js';
import { ConvergenceStore } from './convergence.js';
import { RunStore } from './runs.js';
import { rowIntact, sealAttempt } from './row-seal.js';
import { sourceSha256 } from './canonical-hash.js';
import { openDatabase } from './database.js';
import { DEFAULT_LEASE_MS, HEARTBEATS_PER_LEASE, newOwnerId, ownerGone, type OwnerRow } from './owners.js';
import { DEFAULT_POSTGRES_TIMEOUT_MS, redactUrl } from './postgres-connection.js';
import { isPostgresUrl, openPostgresArchive } from './postgres-schema.js';
import type { SqlConnection } from './sql-connection.js';
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

/** What `Archive.open` may be told besides where the archive is; tests inject the clock. */
export interface ArchiveOptions {
  /** The clock leases are read and renewed on, in ms since the epoch (default Date.now). */
  nowMs?: () => number;
  /** How long an owner that stopped renewing its lease still counts as alive (default DEFAULT_LEASE_MS). */
  leaseMs?: number;
  /** PostgreSQL only: how long one call may wait for the server before it is a storage failure. */
  timeoutMs?: number;
}

/** Reads more than any archive holds: the LIMIT both SQLite and PostgreSQL take when the query sets none. */
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

export class Archive {
  /** The hash-chained ledger of applied changes, in the same file. */
  readonly ledger: Ledger;
  /** The best verified module per slot, with the machine it was verified on. */
  readonly warmStart: WarmStartStore;
  /** The decisions made in approval mode, each also in the ledger. */
  readonly approvals: ApprovalStore;
  /** The runs' samples (bounded per run), for a finished run's charts. */
  readonly runs: RunStore;
  /** What attempts cost the live job, for the next run's economy. */
  readonly attemptCosts: AttemptCostStore;
  /** The step kernel's measured baselines, for a later run that puts a remembered kernel live before measuring one. */
  readonly baselines: BaselineStore;
  /** The economy's remembered convergence, for a later run that starts where this one ended. */
  readonly convergence: ConvergenceStore;

  /** Who this archive's attempts belong to (owners.ts); registered with the first attempt it inserts. */
  readonly ownerId = newOwnerId();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private readonly nowMs: () => number;
  private readonly leaseMs: number;

  private constructor(
    /** The file as given to `open`, or the PostgreSQL URL without its password. */
    readonly file: string,
    private readonly db: SqlConnection,
    /** The schema version the file had when this open migrated it, or null when it needed no migration. */
    readonly migratedFrom: number | null,
    lease: { nowMs: () => number; leaseMs: number },
  ) {
    this.nowMs = lease.nowMs;
    this.leaseMs = lease.leaseMs;
    this.ledger = new Ledger(db, file);
    this.warmStart = new WarmStartStore(db, file);
    this.approvals = new ApprovalStore(db, file, this.ledger);
    this.runs = new RunStore(db);
    this.attemptCosts = new AttemptCostStore(db);
    this.baselines = new BaselineStore(db);
    this.convergence = new ConvergenceStore(db);
  }

  /**
   * Opens the archive at `location`: a `postgres://` URL, or else an SQLite
   * file, created (with its directory) when it does not exist. Throws an
   * `ArchiveError` naming the file or server (never its password) when it
   * cannot be reached, is another application's database, or has a schema
   * version this build does not read.
   */
  static open(location: string, options: ArchiveOptions = {}): Archive {
    requireText('location', location, true);
    const lease = {
      nowMs: options.nowMs ?? Date.now,
      leaseMs: options.leaseMs === undefined ? DEFAULT_LEASE_MS : requireInteger('options.leaseMs', options.leaseMs, 1),
    };
    if (isPostgresUrl(location)) {
      const timeoutMs = options.timeoutMs === undefined ? DEFAULT_POSTGRES_TIMEOUT_MS : requireInteger('options.timeoutMs', options.timeoutMs, 1);
      return new Archive(redactUrl(location), openPostgresArchive(location, timeoutMs), null, lease);
    }
    const { db, migratedFrom } = openDatabase(location);
    return new Archive(location, db, migratedFrom, lease);
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
    return this.db.transaction(() => {
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
          owner: null,
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
    });
  }

  /** The root record of `slot`, or null before `ensureRoot`. */
  root(slot: Slot): AttemptRecord | null {
    requireSlot('slot', slot);
    const row = this.db.get<AttemptRow>('SELECT * FROM attempts WHERE slot = ? AND parent_id IS NULL', slot);
    return row ? toRecord(this.file, row) : null;
  }

  /**
   * Records a new attempt (status pending unless given), durable on return.
   * Its parent must be an attempt of the same slot; the archive computes
   * sourceSha256 and createdAt.
   */
  insertAttempt(attempt: NewAttempt): AttemptRecord {
    checkNewAttempt(attempt);
    return this.db.transaction(() => {
      this.register();
      const parent = this.db.get<{ slot: string }>('SELECT slot FROM attempts WHERE id = ?', attempt.parentId as number);
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
        owner: this.ownerId,
      });
    });
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
    return this.db.transaction(() => {
      const row = this.db.get<{ id: number }>(statement, values);
      if (!row) throw invalidRangeError('id', `is not an attempt in archive ${this.file}`, id);
      return toRecord(this.file, assignments.length === 0 ? this.row(id) : sealAttempt(this.db, id));
    });
  }

  /** Attempt `id`, or null when the archive has none with that id. */
  get(id: number): AttemptRecord | null {
    requireId('id', id);
    const row = this.db.get<AttemptRow>('SELECT * FROM attempts WHERE id = ?', id);
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
    // OFFSET needs a LIMIT clause in SQLite.
    const limit = query.limit === undefined ? NO_LIMIT : requireInteger('query.limit', query.limit, 0);
    const offset = query.offset === undefined ? 0 : requireInteger('query.offset', query.offset, 0);
    const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    return this.db
      .all<AttemptRow>(`SELECT * FROM attempts ${where} ORDER BY id LIMIT ? OFFSET ?`, ...values, limit, offset)
      .map((row) => toRecord(this.file, row));
  }

  /**
   * How many children each attempt of `slot` has, whatever became of them
   * (parent selection weighs 1 / (1 + children)); attempts without children
   * are absent.
   */
  childCounts(slot: Slot): Map<number, number> {
    requireSlot('slot', slot);
    const rows = this.db.all<{ parent_id: number; children: number }>(
      'SELECT parent_id, COUNT(*) AS children FROM attempts WHERE slot = ? AND parent_id IS NOT NULL GROUP BY parent_id',
      slot,
    );
    return new Map(rows.map((row) => [row.parent_id, row.children]));
  }

  /** Attempts by status and by the gate that stopped them, over all slots or one. */
  counts(slot?: Slot): AttemptCounts {
    const filter = slot === undefined ? '' : 'AND slot = ?';
    const values = slot === undefined ? [] : [requireSlot('slot', slot)];
    const byStatus = Object.fromEntries(ATTEMPT_STATUSES.map((status) => [status, 0])) as Record<AttemptStatus, number>;
    const byFailedGate = Object.fromEntries(GATES.map((gate) => [gate, 0])) as Record<GateName, number>;
    const statusRows = this.db.all<{ status: AttemptStatus; n: number }>(
      `SELECT status, COUNT(*) AS n FROM attempts WHERE parent_id IS NOT NULL ${filter} GROUP BY status`,
      ...values,
    );
    for (const row of statusRows) byStatus[row.status] = row.n;
    const gateRows = this.db.all<{ gate: GateName; n: number }>(
      `SELECT failed_gate AS gate, COUNT(*) AS n FROM attempts WHERE parent_id IS NOT NULL AND failed_gate IS NOT NULL ${filter} GROUP BY failed_gate`,
      ...values,
    );
    for (const row of gateRows) byFailedGate[row.gate] = row.n;
    return { total: statusRows.reduce((sum, row) => sum + row.n, 0), byStatus, byFailedGate };
  }

  /**
   * Closes as interrupted every pending attempt whose owner is gone (a
   * killed or stopped engine: owners.ts) or is this archive, with the
   * reason that the run ended first; returns how many. A resumed run calls
   * it before it starts attempts of its own; another engine's attempts in
   * flight stay pending. An engine that stops in order closes its own
   * attempts in flight the same way, so a killed run and a stopped one read
   * alike. Attempts an older build closed as failed for this reason
   * (LEGACY_INTERRUPTED) are relabelled interrupted too: neither says
   * anything about the kernel.
   */
  markInterrupted(): number {
    return this.db.transaction(() => {
      const relabelled = this.db.all<{ id: number }>(
        "UPDATE attempts SET status = 'interrupted' WHERE status = ? AND reason = ? RETURNING id",
        LEGACY_INTERRUPTED.status,
        LEGACY_INTERRUPTED.reason,
      );
      const orphaned = this.orphanedIds();
      const finishedAt = now();
      for (const id of orphaned) {
        this.db.run("UPDATE attempts SET status = 'interrupted', reason = ?, finished_at = ? WHERE id = ?", INTERRUPTED_REASON, finishedAt, id);
      }
      for (const { id } of relabelled) sealAttempt(this.db, id);
      for (const id of orphaned) sealAttempt(this.db, id);
      return orphaned.length;
    });
  }

  /** The pending attempts `markInterrupted()` would close now: those whose owner is gone, and this archive's own. */
  orphanedAttempts(): AttemptRecord[] {
    return this.orphanedIds().map((id) => this.get(id)!);
  }

  /** Renews this archive's lease on the attempts it owns; the archive calls it on a timer once it owns any. */
  heartbeat(): void {
    this.db.run('UPDATE owners SET heartbeat_ms = ? WHERE id = ?', this.nowMs(), this.ownerId);
  }

  /**
   * Whether attempt `id`'s row still matches the content hash written with
   * it (row-seal.ts): "edited" when something changed it outside the
   * archive; null when there is no such attempt.
   */
  integrity(id: number): 'intact' | 'edited' | null {
    requireId('id', id);
    const row = this.db.get<AttemptRow>('SELECT * FROM attempts WHERE id = ?', id);
    if (row === undefined) return null;
    return rowIntact(row) ? 'intact' : 'edited';
  }

  /** The ids of every attempt whose row no longer matches its content hash, in id order. */
  editedAttempts(): number[] {
    return this.db
      .all<AttemptRow>('SELECT * FROM attempts ORDER BY id')
      .filter((row) => !rowIntact(row))
      .map((row) => row.id);
  }

  /**
   * SQLite's own check of the file's pages and indexes (PRAGMA quick_check):
   * the problems it reports, none when the file is sound. A PostgreSQL
   * server checks its own pages; none are reported here.
   */
  fileProblems(): string[] {
    return this.db.storageProblems();
  }

  /**
   * Releases this archive's lease, so that another engine may close at once
   * any attempt it left pending, and closes the file or connection; the
   * archive cannot be used afterwards.
   */
  close(): void {
    if (this.heartbeatTimer !== null) {
      clearInterval(this.heartbeatTimer);
      this.heartbeatTimer = null;
      try {
        this.db.run('DELETE FROM owners WHERE id = ?', this.ownerId);
      } catch {
        // A failed archive cannot release the lease; it runs out by itself (DEFAULT_LEASE_MS).
      }
    }
    this.db.close();
  }

  /** Inside the caller's transaction: records this archive as an owner, once, and starts renewing its lease. */
  private register(): void {
    if (this.heartbeatTimer !== null) return;
    this.db.run(
      `INSERT INTO owners (id, host, pid, heartbeat_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms`,
      this.ownerId,
      os.hostname(),
      process.pid,
      this.nowMs(),
    );
    this.heartbeatTimer = setInterval(() => this.renew(), Math.max(1, Math.floor(this.leaseMs / HEARTBEATS_PER_LEASE)));
    // The lease must not keep a process alive that has nothing else to do.
    this.heartbeatTimer.unref();
  }

  private renew(): void {
    try {
      this.heartbeat();
    } catch {
      // The next write meets the same failure and reports it through the caller's storage-failure path.
    }
  }

  private orphanedIds(): number[] {
    const pending = this.db.all<{ id: number; owner: string | null }>("SELECT id, owner FROM attempts WHERE status = 'pending' ORDER BY id");
    if (pending.length === 0) return [];
    const owners = new Map(this.db.all<OwnerRow>('SELECT * FROM owners').map((owner) => [owner.id, owner]));
    const nowMs = this.nowMs();
    return pending.filter(({ owner }) => owner === null || owner === this.ownerId || ownerGone(owners.get(owner), nowMs, this.leaseMs)).map(({ id }) => id);
  }

  private row(id: number): AttemptRow {
    return this.db.get<AttemptRow>('SELECT * FROM attempts WHERE id = ?', id)!;
  }

  /** Inside the caller's transaction, which also seals the row. */
  private insertRow(
    row: Omit<AttemptRow, 'id' | 'module_path' | 'gates' | 'failed_gate' | 'reason' | 'benchmark' | 'bench_ratio' | 'live_mlups' | 'row_sha256'>,
  ): AttemptRecord {
    const inserted = this.db.get<{ id: number }>(
      `INSERT INTO attempts (parent_id, slot, generator, operator, genome, prompt, source, source_sha256, module_sha256, module_path,
           gates, failed_gate, reason, benchmark, bench_ratio, live_mlups, speedup, status, cost_usd, created_at, finished_at, raw_reply, owner)
         VALUES (@parent_id, @slot, @generator, @operator, @genome, @prompt, @source, @source_sha256, @module_sha256, NULL,
           '[]', NULL, '', NULL, NULL, NULL, @speedup, @status, @cost_usd, @created_at, @finished_at, @raw_reply, @owner)
         RETURNING id`,
      row,
    )!;
    return toRecord(this.file, sealAttempt(this.db, inserted.id));
  }
}
