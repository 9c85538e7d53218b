/**
 * The attempts of one engine: their tickets, the attempts in flight and the
 * work beside them, each attempt's phase report and outcome, the attempts a
 * stop closes as interrupted, and the run's counts the summary reports
 * (ids, ledger entries, cost, circuit openings, first apply). It is apart
 * from the scheduler so that what the engine says about its attempts
 * (getImprovementStatus, attemptFinished, the summary, the close at stop)
 * does not depend on when and how often they are started.
 */
import { storageFailureCode } from '../archive/errors.js';
import type { Archive } from '../archive/archive.js';
import type { AttemptRecord, LedgerEntry } from '../archive/types.js';
import type { Slot } from '../gauntlet/types.js';
import { type Deferred, deferred } from '../util/deferred.js';
import { seededRandom } from '../util/random.js';
import { type AttemptHost, type AttemptRequest, AttemptRunner } from './attempt-runner.js';
import type { EngineParts } from './engine-setup.js';
import type { AttemptPhase, AttemptStatusReport } from './events.js';

/** A phase an attempt entered, as AttemptHost.phase reports it. */
export interface PhaseReport {
  id: number;
  slot: Slot;
  phase: AttemptPhase;
  parentId: number | null;
  generator: string;
}

/** What the tracker reads of the engine that changes over its life. */
export interface TrackerView {
  /** The run's archive; null before start(). */
  archive(): Archive | null;
  /** The engine's sentence about a refused archive write; null while the archive takes writes. */
  storageFailure(): Error | null;
}

/** How a stop closes the attempts it could not end, when the archive failed: what it closed, or what stays pending and why. */
export type StorageFailureClose = { closed: number } | { pending: number[]; error: unknown };

export class AttemptTracker {
  private ticketCount = 0;
  private spentUsd = 0;
  private openings = 0;
  private firstApplyMs: number | null = null;
  /** This run's attempts, by archive id, in the order they got one. */
  private readonly ids: number[] = [];
  /** Ledger entries this run appended: applies, rollbacks, restarts. */
  private readonly ledger: LedgerEntry[] = [];
  /** Every attempt of this run, by id (negative: provisional, before the archive gave it one). */
  private readonly reports = new Map<number, AttemptStatusReport>();
  private readonly finished = new Map<number, Deferred<AttemptRecord>>();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Work beside the attempts (warm-start re-verifications, in-cache ceiling measurements): it takes no place of maxConcurrentImprovements, and stop() waits for it. */
  private readonly beside = new Set<Promise<unknown>>();

  constructor(
    private readonly parts: EngineParts,
    private readonly view: TrackerView,
  ) {}

  /** Attempts started so far, by the loop or attemptImprovement(). */
  get tickets(): number {
    return this.ticketCount;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** USD the generators charged so far. */
  get costUsd(): number {
    return this.spentUsd;
  }

  addCost(usd: number): void {
    this.spentUsd += usd;
  }

  get circuitOpenings(): number {
    return this.openings;
  }

  circuitOpened(): void {
    this.openings += 1;
  }

  /** When the first change of this run went live (the engine's clock); null before one has. */
  get firstApplyAtMs(): number | null {
    return this.firstApplyMs;
  }

  get runLedger(): readonly LedgerEntry[] {
    return this.ledger;
  }

  /** A ledger entry this run appended (a rollback, a restart). */
  recordLedger(entry: LedgerEntry): void {
    this.ledger.push(entry);
  }

  /** A change this run put live: the first one's time is the summary's first apply. */
  recordApplied(entry: LedgerEntry): void {
    this.ledger.push(entry);
    this.firstApplyMs ??= this.parts.now();
  }

  /**
   * Starts one attempt on `host` and resolves with its archive id once it
   * has one. `seedOf` gives the attempt's random seed from its ticket;
   * `ended` is told the attempt's seconds once it has ended, however it did,
   * and its record (null when it failed before it had one) with whether the
   * run was stopping when it ended (it was then cut short).
   */
  launch(
    host: AttemptHost,
    request: AttemptRequest,
    seedOf: (ticket: number) => number,
    ended: (seconds: number, finished: { record: AttemptRecord; cutShort: boolean } | null) => void,
  ): Promise<number> {
    this.ticketCount += 1;
    const ticket = this.ticketCount;
    const runner = new AttemptRunner(host, ticket, seededRandom(seedOf(ticket)));
    const startedMs = this.parts.now();
    const recorded = deferred<number>();
    let finished: { record: AttemptRecord; cutShort: boolean } | null = null;
    const work = runner
      .run(request, (id) => {
        this.ids.push(id);
        this.finished.set(id, this.finished.get(id) ?? deferred());
        const provisional = this.reports.get(-ticket);
        this.reports.delete(-ticket);
        if (provisional) this.reports.set(id, { ...provisional, id });
        recorded.resolve(id);
      })
      .then((record) => {
        finished = { record, cutShort: this.parts.signal.aborted };
        this.parts.events.emit('attempt-finished', record);
        this.finished.get(record.id)?.resolve(record);
      })
      .catch((error: unknown) => {
        this.parts.fail(error);
        // A write the archive refused: the caller hears the engine's sentence (which file, why), not SQLite's.
        const storageFailure = this.view.storageFailure();
        recorded.reject(storageFailureCode(error) !== null && storageFailure !== null ? storageFailure : error);
      })
      .finally(() => {
        this.inFlight.delete(work);
        ended((this.parts.now() - startedMs) / 1000, finished);
      });
    this.inFlight.add(work);
    return recorded.promise;
  }

  /** Runs beside the attempts until `work` settles (it must not reject): stop() waits for it too. */
  addBeside(work: Promise<unknown>): void {
    const tracked = work.finally(() => this.beside.delete(tracked));
    this.beside.add(tracked);
  }

  /** Settles once the attempts in flight now have ended. */
  attemptsSettled(): Promise<unknown> {
    return Promise.allSettled([...this.inFlight]);
  }

  /** Settles once the attempts in flight now, and the work beside them, have ended. */
  allSettled(): Promise<unknown> {
    return Promise.allSettled([...this.inFlight, ...this.beside]);
  }

  phase(report: PhaseReport): void {
    const existing = this.reports.get(report.id);
    const record = report.phase === 'done' && report.id > 0 ? this.view.archive()!.get(report.id) : null;
    const status: AttemptStatusReport = {
      ...report,
      status: record?.status ?? 'pending',
      failedGate: record?.failedGate ?? null,
      reason: record?.reason ?? '',
      startedAt: existing?.startedAt ?? new Date().toISOString(),
      finishedAt: record?.finishedAt ?? null,
    };
    this.reports.set(report.id, status);
    this.parts.events.emit('attempt-phase', status);
  }

  /** A phase of a live change (canary, trial, swap, watch) of an attempt this run knows. */
  phaseOf(attemptId: number, phase: AttemptPhase): void {
    const existing = this.reports.get(attemptId);
    if (existing) this.phase({ id: attemptId, slot: existing.slot, phase, parentId: existing.parentId, generator: existing.generator });
  }

  /** Resolves with the archived record once the attempt has ended. */
  attemptFinished(id: number): Promise<AttemptRecord> {
    let waiting = this.finished.get(id);
    if (waiting === undefined) {
      waiting = deferred();
      this.finished.set(id, waiting);
      const record = this.view.archive()?.get(id) ?? null;
      if (record !== null && record.status !== 'pending' && !this.reports.has(id)) waiting.resolve(record);
    }
    return waiting.promise;
  }

  /** Where an attempt is: this run's from its reports, earlier ones from the archive; null for an id neither knows. */
  status(id: number): AttemptStatusReport | null {
    const known = this.reports.get(id);
    if (known) return { ...known };
    const record = this.view.archive()?.get(id) ?? null;
    if (record === null) return null;
    return {
      id,
      slot: record.slot,
      phase: record.status === 'pending' ? 'selecting' : 'done',
      status: record.status,
      parentId: record.parentId,
      generator: record.generator,
      failedGate: record.failedGate,
      reason: record.reason,
      startedAt: record.createdAt,
      finishedAt: record.finishedAt,
    };
  }

  /**
   * This run's attempts as the archive holds them; none when the archive can
   * no longer be read (a PostgreSQL server gone away), so that a stop still
   * ends with a summary, which then counts no attempts.
   */
  recordsOfRun(archive: Archive): AttemptRecord[] {
    try {
      return this.ids.map((id) => archive.get(id)).filter((record): record is AttemptRecord => record !== null);
    } catch (error) {
      if (storageFailureCode(error) === null) throw error;
      this.parts.fail(error);
      return [];
    }
  }

  /** At a stop whose grace ran out: closes the attempts still pending as interrupted, as the next run would close a killed process's. */
  closeLate(archive: Archive, graceMs: number): void {
    try {
      const closed = archive.markInterrupted();
      this.parts.logger.warn({ event: 'stop-grace-spent', closed }, `${closed} attempt(s) did not end within ${graceMs} ms of the stop; closed as interrupted`);
    } catch (error) {
      // A failing archive must not keep the engine from stopping; the next run's markInterrupted() closes them.
      this.parts.fail(error);
    }
  }

  /**
   * After the archive failed, tries once more to close this run's attempts
   * left pending as interrupted (the disk may have room again, a lock may be
   * gone); when it still cannot, says which of them stay pending.
   */
  closeAfterStorageFailure(archive: Archive): StorageFailureClose {
    try {
      return { closed: archive.markInterrupted() };
    } catch (error) {
      let pending: number[] = [];
      try {
        pending = archive
          .list({ status: 'pending' })
          .map((record) => record.id)
          .filter((id) => this.reports.has(id));
      } catch {
        // Not even readable: the engine's sentence says what it already says.
      }
      return { pending, error };
    }
  }
}
