/**
 * The improvement engine: a running lattice that makes its own kernels
 * faster. `start()` runs the lattice (with the watchdog) if it is not
 * running, samples it, and runs the improvement loop: up to
 * maxConcurrentImprovements attempts in flight, one started at most every
 * improvementInterval (both as the economy paces them: economy.ts), each
 * going through parent selection, a generator, the predictor, the gauntlet
 * and, for a candidate that passed it, the canary and a live A/B trial (or,
 * when the sandbox's benchmark decides, a hot swap and a watch window with
 * automatic rollback; see AttemptRunner and LiveChanges). The loop never dies of an exception: every error is
 * recorded on its attempt, counted by the circuit breaker, logged and
 * emitted as 'error' (only when someone listens: an unheard 'error' event
 * would throw).
 *
 * This class is the public facade; the work is in engine-setup.ts (making
 * the engine's parts, setting a run up and closing it), scheduler.ts (when
 * attempts start: the loop, the economy's pacing, the budgets) and
 * attempt-tracker.ts (the attempts in flight, their reports and outcomes,
 * the run's counts).
 *
 * Events (EngineEvents in events.ts): started, stopped, paused, resumed,
 * sample, attempt-phase, attempt-finished, applied, rolled-back,
 * circuit-open, circuit-closed, warm-start, budget-exhausted, economy, error.
 */
import { EventEmitter } from 'node:events';
import { storageFailureCode } from '../archive/errors.js';
import type { AttemptRecord, LedgerEntry } from '../archive/types.js';
import type { Slot } from '../gauntlet/types.js';
import type { Lattice, SwapResult } from '../lattice/lattice.js';
import { invalidRangeError, invalidTypeError, requireInteger } from '../errors.js';
import { deferred } from '../util/deferred.js';
import type { AttemptRequest } from './attempt-runner.js';
import { AttemptTracker } from './attempt-tracker.js';
import { type EngineConfig, defaultConfig } from './config.js';
import { type EngineDeps, type EngineParts, type Running, closeRun, makeParts, setUpRun, warmStart } from './engine-setup.js';
import type { AttemptStatusReport, EngineEvents, EngineSample } from './events.js';
import { Scheduler } from './scheduler.js';
import { type EngineSummary, summarise } from './summary.js';
import type { ThroughputWindow } from './watch.js';

export type { ApprovalAnswer, ApprovalRequest, Approver, AttemptRequest } from './attempt-runner.js';
export type { EngineDeps } from './engine-setup.js';
export type { EngineSummary } from './summary.js';

/**
 * How long stop() waits for the attempts in flight and the live change
 * under way once it has aborted them. They end within a few hundred
 * milliseconds (every tool and runner is killed, every measurement cut
 * short); the bound is for one that does not honour the signal, whose
 * attempt the archive then closes as interrupted, as it would a killed
 * process's.
 */
const STOP_GRACE_MS = 2_000;

/** Whether `work` settled within `ms` (it goes on either way). */
async function withinMs(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export class Engine extends EventEmitter<EngineEvents> {
  readonly config: EngineConfig;
  private readonly abort = new AbortController();
  private readonly parts: EngineParts;
  private readonly attempts: AttemptTracker;
  private readonly scheduler: Scheduler;
  private run: Running | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private stopping: Promise<EngineSummary> | null = null;
  private finalSummary: EngineSummary | null = null;
  private storageError: Error | null = null;
  private final: ThroughputWindow | null = null;
  private readonly stopped = deferred<void>();

  constructor(
    readonly lattice: Lattice,
    config: EngineConfig = defaultConfig,
    deps: EngineDeps = {},
  ) {
    super();
    this.config = config;
    this.parts = makeParts(lattice, config, deps, this.abort.signal, this, (error) => this.fail(error));
    this.attempts = new AttemptTracker(this.parts, { archive: () => this.run?.archive ?? null, storageFailure: () => this.storageError });
    this.scheduler = new Scheduler(this.parts, this.attempts);
    this.parts.breaker.on('circuit-open', (opening) => {
      this.attempts.circuitOpened();
      this.emit('circuit-open', opening);
    });
    this.parts.breaker.on('circuit-closed', (closing) => this.emit('circuit-closed', closing));
  }

  /** Whether start() has run and stop() has not finished. */
  get running(): boolean {
    return this.run !== null && this.finalSummary === null;
  }

  get paused(): boolean {
    return this.scheduler.paused;
  }

  /**
   * Why the engine stopped itself because the archive could no longer be
   * written (a full disk, an I/O error), naming the file; null otherwise.
   * Outcomes after it may be missing from the archive, so the caller must
   * not report the run as a success.
   */
  get storageFailure(): Error | null {
    return this.storageError;
  }

  /**
   * Opens the archive (marking attempts a killed engine left pending),
   * adopts the live modules, runs the lattice with the watchdog if it is not
   * running already and starts sampling; then, in the background, tries the
   * warm start and takes the baseline throughput (in either order, see
   * runInBackground) and, unless autoImprove is false, runs the improvement loop.
   */
  async start(): Promise<void> {
    if (this.run !== null) throw new Error('start(): the engine has already been started; create a new Engine to start again');
    this.run = await setUpRun(this.parts, this.attempts);
    this.scheduler.begin(this.run);
    this.run.sampler.start();
    this.loopDone = this.runInBackground(this.run);
    this.emit('started');
  }

  /**
   * The run after start(): the warm start and the baseline, then (unless
   * autoImprove is false) the loop until a budget is spent or the stop. A
   * baseline the archive remembers for this machine and lattice lets the
   * warm start go first, with nothing measured before it; without one the
   * baseline is measured first, and the warm start's swap compares with it.
   */
  private async runInBackground(run: Running): Promise<void> {
    const remembered = this.config.archive.warmStart ? this.scheduler.rememberedBaseline() : null;
    if (remembered === null) await this.scheduler.measureBaseline();
    if (this.config.archive.warmStart) await warmStart(this.parts, run, this.attempts, this.scheduler.baseline ?? remembered?.window ?? null);
    if (remembered !== null) await this.scheduler.settleBaseline(remembered);
    if (this.parts.deps.autoImprove === false) return;
    this.scheduler.startFromConvergence();
    const budget = await this.scheduler.loop();
    // An attempt budget counts attempts started; say it is spent once the last of them has ended.
    if (budget !== null && !this.abort.signal.aborted) {
      this.emit('budget-exhausted', budget);
      void this.stop();
    }
  }

  /** Records an error the loop survived: logged, counted by the breaker, emitted when someone listens. */
  private fail(error: unknown): void {
    const { logger } = this.parts;
    const failure = error instanceof Error ? error : new Error(String(error));
    const code = storageFailureCode(error);
    if (code !== null && this.storageError === null) {
      // Attempts started now could not be recorded: stop starting them, end those in flight, and say why.
      const file = this.run?.archive.file ?? this.config.archive.path;
      this.storageError = new Error(`archive ${file}: a write failed (${code}: ${failure.message}); the engine stopped starting attempts`);
      logger.error({ event: 'storage-failure', code, file }, this.storageError.message);
      if (this.listenerCount('error') > 0) this.emit('error', this.storageError);
      if (this.run !== null) void this.stop();
      return;
    }
    this.parts.breaker.recordFailure('engine');
    logger.error({ event: 'error', err: failure }, failure.message);
    if (this.listenerCount('error') > 0) this.emit('error', failure);
  }

  /**
   * Starts one improvement attempt now (outside the loop's pacing, but
   * counted against the budgets) and resolves with its archive id once the
   * generator has proposed a child (or failed to). Follow it with
   * getImprovementStatus(id) or attemptFinished(id).
   */
  async attemptImprovement(request: AttemptRequest = {}): Promise<number> {
    if (!this.running) throw new Error('attemptImprovement(): the engine is not running; await engine.start() first');
    if (this.abort.signal.aborted) throw new Error('attemptImprovement(): the engine is stopping');
    if (request === null || typeof request !== 'object') throw invalidTypeError('request', 'an object such as { slot: "step" }', request);
    const { generator, generatorSlots } = this.run!.host;
    if (request.slot !== undefined && !generatorSlots.includes(request.slot)) {
      throw invalidRangeError(
        'slot',
        `the ${generator.name} generator writes kernels only for ${generatorSlots.map((s) => `"${s}"`).join(', ')}`,
        request.slot,
      );
    }
    if (request.parentId !== undefined) requireInteger('parentId', request.parentId, 1);
    return this.scheduler.launch(request);
  }

  /** Resolves with the archived record once the attempt has ended. */
  attemptFinished(id: number): Promise<AttemptRecord> {
    return this.attempts.attemptFinished(id);
  }

  /**
   * Where an attempt is: its phase and status. Attempts of this run are
   * known from the moment they start (negative ids are provisional: the
   * attempt has no archive record yet); earlier ones come from the archive.
   */
  getImprovementStatus(id: number): AttemptStatusReport | null {
    return this.attempts.status(id);
  }

  /**
   * Returns `slot` to its last-known-good module (after any change in
   * progress), records it in the ledger and marks the attempt it undid as
   * rolled back with `reason`. Throws when the live module already is the
   * last-known-good one.
   */
  async rollback(slot: Slot, reason = 'rollback requested'): Promise<{ outcome: SwapResult; entry: LedgerEntry }> {
    if (!this.running) throw new Error('rollback(): the engine is not running; await engine.start() first');
    if (slot !== 'step' && slot !== 'readout') throw invalidRangeError('slot', 'must be "step" or "readout"', slot);
    const run = this.run!;
    const { outcome, entry, undone } = await run.live.rollBackOnRequest(slot, reason);
    if (undone.attemptId !== run.roots.get(slot)) {
      const record = run.archive.updateAttempt(undone.attemptId, { status: 'rolled-back', reason });
      this.emit('attempt-finished', record);
    }
    return { outcome, entry };
  }

  /** Stops starting attempts (those in flight go on); the simulation keeps running. */
  pause(reason = 'paused by the caller'): void {
    if (this.scheduler.pause(reason)) this.emit('paused', reason);
  }

  resume(): void {
    if (this.scheduler.resume()) this.emit('resumed');
  }

  /** Samples taken so far (the newest last). */
  samples(): readonly EngineSample[] {
    return this.run?.sampler.samples ?? [];
  }

  /** The in-cache ceiling of the live step module (MLUPS), for the displays; null until it is measured, or with no economy. */
  inCacheMlups(): number | null {
    return this.scheduler.inCacheCeiling();
  }

  /** The figures of the end-of-run table, now (or as they were at stop()). */
  summary(): EngineSummary {
    if (this.finalSummary !== null) return this.finalSummary;
    const run = this.run;
    if (run === null) throw new Error('summary(): the engine has not been started');
    const { now, heldClock } = this.parts;
    const firstApplyAtMs = this.attempts.firstApplyAtMs;
    const records = this.attempts.recordsOfRun(run.archive);
    const heldSeconds = heldClock.totalMs() / 1000;
    return summarise({
      wallSeconds: (now() - run.startedMs) / 1000,
      steps: this.lattice.stepCount,
      samples: run.sampler.samples,
      baseline: this.scheduler.baseline,
      baselineSource: this.scheduler.baselineSource,
      final: this.final,
      records,
      ledger: this.attempts.runLedger,
      economy: run.economy?.report() ?? null,
      maxEnergyDrift: run.sampler.maxEnergyDrift,
      incumbents: run.live.incumbents,
      liveNames: run.sampler.liveModules(),
      costUsd: this.attempts.costUsd,
      circuitOpenings: this.attempts.circuitOpenings,
      predictor: run.host.predictor.stats(),
      heldSeconds,
      startStep: run.startStep,
      cells: this.lattice.cells,
      firstApplyAtSeconds: firstApplyAtMs === null ? null : (firstApplyAtMs - run.startedMs) / 1000,
      account: run.account.report({
        heldSeconds,
        childCpuSeconds: this.parts.childCpuSeconds() - run.childCpuAtStart,
        attempts: records.length,
        watchdogSeconds: (this.lattice.watchdogCheckMs - run.watchdogCheckMsAtStart) / 1000,
      }),
    });
  }

  /** Resolves when the engine has stopped, by stop() or a spent budget. */
  whenStopped(): Promise<void> {
    return this.stopped.promise;
  }

  /**
   * Stops the loop and aborts the attempts in flight: generators, tools and
   * sandbox runs are killed and those attempts are recorded as interrupted
   * (the circuit breaker does not count them); a winner not yet live stays
   * in the archive as passed, and a change in its canary or watch window is
   * abandoned with the incumbent live. Then measures a short final window,
   * stops the lattice's run if start() began it, closes the archive it
   * opened, and returns the final summary: within seconds of the call.
   */
  stop(): Promise<EngineSummary> {
    this.stopping ??= this.shutDown();
    return this.stopping;
  }

  private async shutDown(): Promise<EngineSummary> {
    const run = this.run;
    if (run === null) throw new Error('stop(): the engine has not been started');
    this.abort.abort();
    // First, so that no sample's energy (a second or two of the event loop at 4096^2 on a loaded
    // machine) delays the kills and the summary; the samples so far cover the run up to the stop.
    run.sampler.stop();
    const settled = Promise.all([this.loopDone, this.attempts.allSettled(), run.live.idle(), run.sampler.settled()]);
    if (!(await withinMs(settled, STOP_GRACE_MS))) this.attempts.closeLate(run.archive, STOP_GRACE_MS);
    if (this.storageError !== null) this.closeAfterStorageFailure(run);
    this.final = await this.scheduler.finalWindow();
    const summary = this.summary();
    this.finalSummary = summary;
    if (this.storageError === null) this.scheduler.rememberConvergence();
    await closeRun(this.parts, run);
    this.emit('stopped');
    run.detachLog();
    this.parts.logger.flush();
    this.stopped.resolve();
    return summary;
  }

  /**
   * After the archive failed, tries once more to close this engine's
   * attempts left pending as interrupted (the disk may have room again, a
   * lock may be gone). When it still cannot write, the storage failure's
   * sentence names them: they stay pending, and the next run on the archive
   * closes them, since their owner is gone by then.
   */
  private closeAfterStorageFailure(run: Running): void {
    const { logger } = this.parts;
    const outcome = this.attempts.closeAfterStorageFailure(run.archive);
    if ('closed' in outcome) {
      const { closed } = outcome;
      if (closed > 0) logger.warn({ event: 'closed-after-storage-failure', closed }, `${closed} attempt(s) in flight were closed as interrupted`);
      return;
    }
    const { pending, error } = outcome;
    if (pending.length === 0) return;
    const one = pending.length === 1;
    const which = `${one ? 'attempt' : 'attempts'} ${pending.join(', ')} could not be closed and ${one ? 'stays' : 'stay'} pending`;
    this.storageError = new Error(`${this.storageError!.message}; ${which}: the next run on this archive closes ${one ? 'it' : 'them'} as interrupted`, {
      cause: error,
    });
    logger.error({ event: 'pending-after-storage-failure', pending }, this.storageError.message);
  }
}
