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
 * Events (EngineEvents in events.ts): started, stopped, paused, resumed,
 * sample, attempt-phase, attempt-finished, applied, rolled-back,
 * circuit-open, circuit-closed, warm-start, budget-exhausted, economy, error.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kernelModulePath, packageRoot } from '../../native/loader.js';
import { Archive } from '../archive/archive.js';
import { storageFailureCode } from '../archive/errors.js';
import { machineFingerprint } from '../archive/fingerprint.js';
import type { AttemptRecord, LedgerEntry, MachineFingerprint } from '../archive/types.js';
import type { GauntletPool } from '../gauntlet/pool.js';
import { SerialQueue } from '../gauntlet/serial-queue.js';
import type { Slot } from '../gauntlet/types.js';
import type { Generator } from '../generators/types.js';
import { type Lattice, SLOTS, type SwapResult } from '../lattice/lattice.js';
import { invalidRangeError, invalidTypeError, requireInteger } from '../errors.js';
import { seededRandom } from '../util/random.js';
import { type AttemptHost, type AttemptRequest, AttemptRunner, type Approver } from './attempt-runner.js';
import { childCpuSeconds } from './child-cpu.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { AttemptCostLog, attemptCostKey } from './attempt-costs.js';
import { type CarriedAttemptCost, Economy, type EconomyDecision, rooflineBinds } from './economy.js';
import { type EngineConfig, archiveLocation, defaultConfig } from './config.js';
import type { AttemptPhase, AttemptStatusReport, BudgetReport, EngineEvents, EngineSample } from './events.js';
import { generatorFromConfig } from './generator-factory.js';
import type { GauntletResources } from './judge.js';
import { LiveChanges, type WindowMeasure, fileSha256 } from './live-changes.js';
import { type EngineLogger, createEngineLog, logEngineEvents } from './log.js';
import { predictorSample } from './candidate-features.js';
import { Predictor, type PredictorOptions } from './predictor.js';
import { LiveSampler } from './sampler.js';
import { StrategyMemory } from './strategy-memory.js';
import { HeldClock } from './held-clock.js';
import { type EngineSummary, summarise } from './summary.js';
import { type ThroughputWindow, measureSlot, sleepMs } from './watch.js';
import { type HoldLive, measureInCacheMlups } from './in-cache-ceiling.js';
import { warmStartSlot } from './warm-start.js';

export type { ApprovalAnswer, ApprovalRequest, Approver, AttemptRequest } from './attempt-runner.js';
export type { EngineSummary } from './summary.js';

/** What tests and embedders may supply instead of what the configuration would build. */
export interface EngineDeps {
  /** Default: the generator config.generator.kind names. */
  generator?: Generator;
  /** The slots an injected generator writes kernels for (default ["step"]). */
  generatorSlots?: readonly Slot[];
  /** Default: the SQLite archive at config.archive.path (its directory is created). The engine closes only an archive it opened. */
  archive?: Archive;
  /** Milliseconds on a monotonic clock (default performance.now): budgets, the breaker, samples. */
  now?: () => number;
  /** Overrides config.seed. */
  seed?: number;
  /** Default: a pino log to config.log.file. */
  logger?: EngineLogger;
  /** The gauntlet's worker pool (default: the shared one). */
  pool?: GauntletPool;
  /** The gauntlet (default evaluateCandidate): a test's verdicts, so that judging is injected like `now`, or the fleet's remote evaluation. */
  evaluate?: GauntletResources['evaluate'];
  /** Puts something in front of the generator (the fleet's inbox of other engines' improvements, ts/fleet/sharing-generator.ts). */
  wrapGenerator?: (generator: Generator) => Generator;
  /** false: no improvement loop, attempts start only through attemptImprovement(); the warm start still runs (default true). */
  autoImprove?: boolean;
  predictor?: PredictorOptions;
  /**
   * Runs every winner in-process, as if the project had rendered it, instead
   * of confining what trust.ts does not recognise as the variant generator's
   * own rendering: only for an embedder (or a test) whose injected generator
   * writes nothing untrusted. Default false.
   */
  trustGeneratedSources?: boolean;
  /** How long the run is meant to last in seconds (the CLI's --duration), for the economy's remaining time; default budget.maxWallSeconds, if any. */
  runSeconds?: number;
  /** The roofline of the lattice's memory the caller measured, in MLUPS: one of the economy's ceilings (economy.ts). */
  rooflineMlups?: number;
  /**
   * The step module's MLUPS on a lattice that fits in cache, the economy's
   * other ceiling (default measureInCacheMlups on a small lattice of the
   * run's settings), once per live step module; it makes its timed runs
   * under `hold`, which holds the live lattice.
   */
  inCacheMlups?: (modulePath: string, hold: HoldLive) => Promise<number>;
  /**
   * Measures a slot's live throughput over a window (default measureSlot on
   * the lattice): the baseline, every trial and watch window, the final
   * figure. Tests inject it so that live speed decisions are theirs.
   */
  measureWindow?: WindowMeasure;
  /** CPU seconds of this process's ended children so far (default: /proc/self/stat cutime + cstime). */
  childCpuSeconds?: () => number;
  /** Approval mode: a person approves or rejects each candidate that passed every gate before it goes live (the dashboard's desk). */
  approve?: Approver;
}

const LOOP_POLL_MS = 50;
/**
 * How long stop() waits for the attempts in flight and the live change
 * under way once it has aborted them. They end within a few hundred
 * milliseconds (every tool and runner is killed, every measurement cut
 * short); the bound is for one that does not honour the signal, whose
 * attempt the archive then closes as interrupted, as it would a killed
 * process's.
 */
const STOP_GRACE_MS = 2_000;
/** The final quiet window at stop: short, so that a stop ends within seconds (the watch window may be longer). */
const FINAL_WINDOW_MS = 1_000;
/**
 * What an attempt is taken to cost the live job before one has ended in
 * this run, in lattice-seconds, on a machine and lattice the archive has no
 * measured attempt for (attempt-costs.ts): a 90 s run at 4096^2 held the
 * lattice 54 s for 5 attempts.
 */
const PRIOR_ATTEMPT_COST_SECONDS = 10;
/** Recent free-running samples whose median is the live kernel's rate for the economy's headroom. */
const LIVE_RATE_SAMPLES = 5;
const REFERENCE_SOURCE = path.join(packageRoot, 'cpp', 'kernels', 'reference.cpp');

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

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

/** A run's state once start() has set it up. */
interface Running {
  archive: Archive;
  fingerprint: MachineFingerprint;
  ownsArchive: boolean;
  ownsRun: boolean;
  live: LiveChanges;
  sampler: LiveSampler;
  host: AttemptHost;
  roots: Map<Slot, number>;
  detachLog: () => void;
  startedMs: number;
  /** The lattice's step count when start() began: net throughput counts from here. */
  startStep: number;
  ticketBase: number;
  /** null with economy.enabled false: the fixed pacing. */
  economy: Economy | null;
  /** Where each ended attempt's cost is kept for the next run's economy. */
  attemptCosts: AttemptCostLog;
  childCpuAtStart: number;
}

interface InCacheCeiling {
  modulePath: string;
  /** null until measured, and after a failed measurement. */
  mlups: number | null;
  measuring: boolean;
}

export class Engine extends EventEmitter<EngineEvents> {
  readonly config: EngineConfig;
  private readonly now: () => number;
  private readonly measure: WindowMeasure;
  private readonly seed: number;
  private readonly logger: EngineLogger;
  private readonly breaker: CircuitBreaker;
  private readonly abort = new AbortController();
  private readonly gauntlet: GauntletResources;
  /** Sandbox runs, and live trials, one at a time (see holdingLive and LiveChangeSettings.sandboxQueue). */
  private readonly sandboxes = new SerialQueue();
  private readonly heldClock: HeldClock;
  /** The in-cache ceiling of the live step module, measured or being measured (mlups null). */
  private inCache: InCacheCeiling | null = null;
  private firstApplyAtMs: number | null = null;
  /** The slot the profiler last named the bottleneck, while the economy was backed off. */
  private bottleneckSlot: Slot | null = null;
  private run: Running | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private stopping: Promise<EngineSummary> | null = null;
  private finalSummary: EngineSummary | null = null;
  private pausedReason: string | null = null;
  private storageError: Error | null = null;
  private tickets = 0;
  private lastStartMs = -Infinity;
  private costUsd = 0;
  private circuitOpenings = 0;
  private baseline: ThroughputWindow | null = null;
  private final: ThroughputWindow | null = null;
  private readonly runIds: number[] = [];
  private readonly runLedger: LedgerEntry[] = [];
  private readonly reports = new Map<number, AttemptStatusReport>();
  private readonly finished = new Map<number, Deferred<AttemptRecord>>();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Work beside the attempts (warm-start re-verifications, in-cache ceiling measurements): it takes no place of maxConcurrentImprovements, and stop() waits for it. */
  private readonly reverifying = new Set<Promise<unknown>>();
  private readonly stopped = deferred<void>();

  constructor(
    readonly lattice: Lattice,
    config: EngineConfig = defaultConfig,
    private readonly deps: EngineDeps = {},
  ) {
    super();
    this.config = config;
    this.now = deps.now ?? (() => performance.now());
    this.measure = deps.measureWindow ?? ((slot, options) => measureSlot(lattice, slot, options));
    this.heldClock = new HeldClock(this.now);
    this.seed = deps.seed ?? config.seed;
    this.logger = deps.logger ?? createEngineLog(config.log);
    this.gauntlet = {
      pool: deps.pool,
      sandboxQueue: { run: (work) => this.sandboxes.run(() => this.holdingLive(work)) },
      ...(deps.evaluate ? { evaluate: deps.evaluate } : {}),
    };
    this.breaker = new CircuitBreaker({
      failures: config.breaker.failures,
      backoffMs: config.breaker.backoffMs,
      maxBackoffMs: config.breaker.maxBackoffMs,
      now: this.now,
    });
    this.breaker.on('circuit-open', (opening) => {
      this.circuitOpenings += 1;
      this.emit('circuit-open', opening);
    });
    this.breaker.on('circuit-closed', (closing) => this.emit('circuit-closed', closing));
  }

  /** Whether start() has run and stop() has not finished. */
  get running(): boolean {
    return this.run !== null && this.finalSummary === null;
  }

  get paused(): boolean {
    return this.pausedReason !== null;
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
   * running already and starts sampling; then, in the background, measures
   * the baseline throughput over one watch window, tries the warm start and,
   * unless autoImprove is false, runs the improvement loop.
   */
  async start(): Promise<void> {
    if (this.run !== null) throw new Error('start(): the engine has already been started; create a new Engine to start again');
    const detachLog = logEngineEvents(this, this.logger);
    const fingerprint = await machineFingerprint();
    const ownsArchive = this.deps.archive === undefined;
    const archive = this.deps.archive ?? Archive.open(archiveLocation(this.config.archive));
    try {
      for (const record of archive.orphanedAttempts()) {
        this.logger.warn({ event: 'interrupted', id: record.id }, `attempt ${record.id} was left pending by an engine that ended first`);
      }
      archive.markInterrupted();
      const roots = this.ensureRoots(archive);
      const records = archive.list();
      // Outcomes are attempts the gauntlet judged: not the roots, generator failures, skips or interrupted ones.
      const learnable = records.filter((record) => record.parentId !== null && record.gates.length > 0 && record.status !== 'interrupted');
      const memory = StrategyMemory.fromRecords(learnable);
      const predictor = Predictor.fromRecords(learnable, predictorSample, this.deps.predictor);
      const given = this.deps.generator
        ? { generator: this.deps.generator, slots: this.deps.generatorSlots ?? (['step'] as const) }
        : generatorFromConfig(this.config, memory);
      const configured = this.deps.wrapGenerator ? { ...given, generator: this.deps.wrapGenerator(given.generator) } : given;
      const live = this.liveChanges(archive);
      this.adoptLiveModules(archive, live, roots);
      const ownsRun = !this.lattice.running;
      if (ownsRun) {
        this.lattice
          .run({ watchdog: this.config.watchdog })
          .then((summary) => summary.error !== null && this.fail(new Error(`the lattice's run ended: ${summary.error}`)))
          .catch((error: unknown) => this.fail(error));
      }
      const sampler = new LiveSampler(this.lattice, {
        sampleIntervalMs: this.config.sampleIntervalMs,
        energyIntervalMs: this.config.energyIntervalMs,
        now: this.now,
        heldMs: () => this.heldClock.totalMs(),
        onSample: (sample) => this.emit('sample', sample),
        onError: (error) => this.fail(error),
      });
      const host: AttemptHost = {
        lat: this.lattice,
        config: this.config,
        archive,
        fingerprint,
        live,
        breaker: this.breaker,
        memory,
        predictor,
        generator: configured.generator,
        generatorSlots: configured.slots,
        gauntlet: this.gauntlet,
        ...(this.deps.approve ? { approve: this.deps.approve } : {}),
        signal: this.abort.signal,
        rootOf: (slot) => roots.get(slot)!,
        liveMlups: () => sampler.samples.at(-1)?.mlups ?? 0,
        phase: (report) => this.phase(report),
        gateProgress: (report) => this.emit('gate-progress', report),
        addCost: (usd) => {
          this.costUsd += usd;
        },
      };
      const threads = this.config.lattice.threads > 0 ? this.config.lattice.threads : os.availableParallelism();
      const attemptCosts = new AttemptCostLog(archive.attemptCosts, attemptCostKey(this.lattice, threads, fingerprint));
      const economy = this.createEconomy(attemptCosts.carried(configured.slots));
      this.run = {
        archive,
        fingerprint,
        ownsArchive,
        ownsRun,
        live,
        sampler,
        host,
        roots,
        detachLog,
        startedMs: this.now(),
        startStep: this.lattice.stepCount,
        ticketBase: records.length,
        economy,
        attemptCosts,
        childCpuAtStart: this.childCpuSeconds(),
      };
    } catch (error) {
      detachLog();
      if (ownsArchive) archive.close();
      const code = storageFailureCode(error);
      // A full or read-only archive at start: say which file and why, as the loop does when it meets one later.
      if (code !== null)
        throw new Error(`archive ${archive.file}: a write failed (${code}: ${(error as Error).message}); the engine could not start`, { cause: error });
      throw error;
    }
    this.run.sampler.start();
    this.loopDone = this.loop();
    this.emit('started');
  }

  private ensureRoots(archive: Archive): Map<Slot, number> {
    const source = readFileSync(REFERENCE_SOURCE, 'utf8');
    const sha256 = fileSha256(kernelModulePath('reference'));
    return new Map(SLOTS.map((slot) => [slot, archive.ensureRoot(slot, source, sha256).id]));
  }

  private liveChanges(archive: Archive): LiveChanges {
    return new LiveChanges(
      this.lattice,
      archive.ledger,
      {
        trustGeneratedSources: this.deps.trustGeneratedSources === true,
        canarySteps: this.config.canary.steps,
        canaryTolerance: this.config.canary.tolerance,
        watchWindowMs: this.config.watch.windowMs,
        watchMinSteps: this.config.watch.minSteps,
        maxDegradation: this.config.maxDegradation,
        driftTolerance: this.config.watchdog.driftTolerance,
        trialWindowMs: this.config.trial.windowMs,
        trialMinSteps: this.config.trial.minSteps,
        trialMaxPairs: this.config.trial.maxPairs,
        trialMinGain: this.config.trial.minGain,
        trialMaxSlowerLiveMs: this.config.trial.maxSlowerLiveMs,
        sandboxQueue: this.sandboxes,
      },
      {
        phase: (attemptId, phase) => this.phaseOf(attemptId, phase),
        applied: (entry) => {
          this.runLedger.push(entry);
          this.firstApplyAtMs ??= this.now();
          this.run?.economy?.change(`a new ${entry.slot} kernel is live`);
          this.emit('applied', entry);
        },
        rolledBack: (entry) => {
          this.runLedger.push(entry);
          this.run?.economy?.change(`the ${entry.slot} kernel was rolled back`);
          this.emit('rolled-back', entry);
        },
        incumbentLost: (attemptId, reason) => {
          const record = this.run!.archive.updateAttempt(attemptId, { status: 'rolled-back', reason });
          this.emit('attempt-finished', record);
        },
        trialEnded: (lossSeconds) => this.run?.economy?.chargeTrialLoss(lossSeconds),
      },
      this.measure,
    );
  }

  /**
   * The module live in each slot now is the root when it is the reference
   * kernel, else the latest archived attempt built to the same bytes, else
   * (a kernel the archive never saw) it is treated as the root and the log says so.
   */
  private adoptLiveModules(archive: Archive, live: LiveChanges, roots: Map<Slot, number>): void {
    const slots = this.lattice.slots();
    for (const slot of SLOTS) {
      const module = slots[slot].live;
      const moduleSha256 = fileSha256(module.path);
      const records = archive.list({ slot });
      const root = records.find((record) => record.id === roots.get(slot))!;
      let record = root.moduleSha256 === moduleSha256 ? root : records.filter((r) => r.moduleSha256 === moduleSha256).at(-1);
      if (record === undefined) {
        this.logger.warn({ event: 'unknown-live-module', slot, path: module.path }, `the live ${slot} module is not in the archive; treating it as the root`);
        record = root;
      }
      live.adopt({ slot, attemptId: record.id, moduleId: module.id, modulePath: module.path, moduleSha256, speedup: record.speedup ?? 1 });
      this.recordRestart(archive, slot, record.id, module.name, moduleSha256);
    }
  }

  /**
   * When the ledger's last change of `slot` left another module live than
   * the one this run starts with (a new process starts on the reference),
   * records the return, so that replaying the ledger gives what ran.
   */
  private recordRestart(archive: Archive, slot: Slot, attemptId: number, name: string, moduleSha256: string): void {
    const last = archive.ledger.latest(slot);
    if (last === null || last.moduleSha256 === moduleSha256) return;
    const entry = archive.ledger.append({
      action: 'restart',
      slot,
      attemptId,
      moduleSha256,
      previousModuleSha256: last.moduleSha256,
      atStep: this.lattice.stepCount,
      reason: `a new run started with ${name} (attempt ${attemptId}) live; ledger entry ${last.sequence} had left attempt ${last.attemptId ?? 'none'}'s module there`,
    });
    this.runLedger.push(entry);
  }

  private async loop(): Promise<void> {
    try {
      this.baseline = await this.quietMlups(this.abort.signal);
    } catch (error) {
      this.fail(error);
    }
    if (this.config.archive.warmStart) await this.warmStart();
    if (this.deps.autoImprove === false) return;
    let budget: BudgetReport | null = null;
    while (!this.abort.signal.aborted) {
      try {
        budget = this.budgetSpent();
        if (budget !== null) break;
        const waitMs = this.startWaitMs();
        if (waitMs > 0) {
          await sleepMs(Math.min(waitMs, LOOP_POLL_MS));
          continue;
        }
        this.launch({}).catch((error: unknown) => this.fail(error));
      } catch (error) {
        this.fail(error);
        await sleepMs(LOOP_POLL_MS);
      }
    }
    await Promise.allSettled([...this.inFlight]);
    // An attempt budget counts attempts started; say it is spent once the last of them has ended.
    if (budget !== null && !this.abort.signal.aborted) {
      this.emit('budget-exhausted', budget);
      void this.stop();
    }
  }

  /**
   * The baseline: step-kernel throughput with no attempt in flight, over a
   * trial window (trial.window, at least trial.minSteps steps) rather than a
   * watch window. Nothing starts before it ends, neither the warm start nor
   * the first attempt, and a watch window (4 s, 10 steps) at the reference
   * kernel's 0.24 s per step at 4096^2 was a third of a warm start's
   * 8 s to a live kernel. Kernel time is timed natively per call, so a few
   * steps measure it well; a trial decides on windows of the same length.
   */
  private quietMlups(signal?: AbortSignal): Promise<ThroughputWindow> {
    const window = { windowMs: this.config.trial.windowMs, minSteps: this.config.trial.minSteps };
    return this.measure('step', signal ? { ...window, signal } : window);
  }

  /** The step kernel's throughput at stop, over at most FINAL_WINDOW_MS whatever the watch window's length. */
  private finalMlups(): Promise<ThroughputWindow> {
    const windowMs = Math.min(this.config.watch.windowMs, FINAL_WINDOW_MS);
    return this.measure('step', { windowMs, minSteps: this.config.watch.minSteps, timeoutMs: FINAL_WINDOW_MS });
  }

  /**
   * Puts each slot's remembered module live at once; its re-verification
   * runs in the background, beside the improvement loop (stop() aborts it
   * and waits for it as for an attempt in flight).
   */
  private async warmStart(): Promise<void> {
    const run = this.run!;
    const host = {
      config: this.config,
      archive: run.archive,
      fingerprint: run.fingerprint,
      live: run.live,
      gauntlet: this.gauntlet,
      signal: this.abort.signal,
      // Measured on the step slot just before, with nothing changed since: the warm start's swap need not measure it again.
      incumbentWindow: this.baseline,
    };
    for (const slot of run.host.generatorSlots) {
      try {
        const { report, reverified } = await warmStartSlot(host, slot);
        this.emit('warm-start', report);
        if (reverified === null) continue;
        const work = reverified
          .then((later) => this.emit('warm-start', later))
          .catch((error: unknown) => this.fail(error))
          .finally(() => this.reverifying.delete(work));
        this.reverifying.add(work);
      } catch (error) {
        this.fail(error);
      }
    }
  }

  /**
   * Runs a sandbox run with the live lattice held at a step boundary when
   * gauntlet.holdLive is set: its benchmark then times the kernels on free
   * cores, not against the simulation's own threads (which favour kernels
   * that cope with a contended machine over the fastest on a quiet one).
   * The watchdog's checks wait too: one on the event loop's core would
   * compete with the benchmark just as the simulation would.
   * A lattice someone else paused stays paused.
   */
  private holdingLive<T>(work: () => Promise<T>): Promise<T> {
    return this.config.gauntlet.holdLive ? this.holding(work) : work();
  }

  /** Runs `work` with the live lattice held at a step boundary (counted as held time); a lattice someone else paused stays paused. */
  private async holding<T>(work: () => Promise<T>): Promise<T> {
    const lat = this.lattice;
    if (!lat.running || lat.paused) return work();
    const releaseChecks = lat.holdWatchdogChecks();
    lat.pause();
    const release = this.heldClock.hold();
    try {
      return await work();
    } finally {
      release();
      if (lat.running) lat.resume();
      releaseChecks();
    }
  }

  /** How long the loop must wait before it may start another attempt (0: now). */
  private startWaitMs(): number {
    if (this.pausedReason !== null) return LOOP_POLL_MS;
    if (this.inFlight.size >= this.config.maxConcurrentImprovements) return LOOP_POLL_MS;
    // No new gauntlet load while the live kernel is being measured for a swap.
    if (this.run!.live.busy) return LOOP_POLL_MS;
    const breakerMs = this.breaker.remainingMs();
    if (breakerMs > 0) return breakerMs;
    const pacing = this.pacing();
    if (this.inFlight.size >= pacing.maxInFlight) return LOOP_POLL_MS;
    return pacing.waitMs;
  }

  private createEconomy(carriedAttemptCost: CarriedAttemptCost | null): Economy | null {
    if (!this.config.economy.enabled) return null;
    return new Economy(
      {
        now: this.now,
        maxDegradation: this.config.maxDegradation,
        childCpuCost: this.config.economy.childCpuCost,
        cores: os.availableParallelism(),
        horizonSeconds: this.config.economy.horizonMs / 1000,
        maxConcurrent: this.config.maxConcurrentImprovements,
        intervalMs: this.config.improvementIntervalMs,
        priorAttemptCostSeconds: PRIOR_ATTEMPT_COST_SECONDS,
        carriedAttemptCost,
      },
      (transition) => this.emit('economy', transition),
    );
  }

  private childCpuSeconds(): number {
    return (this.deps.childCpuSeconds ?? childCpuSeconds)();
  }

  /** What the economy measures, cumulative since start(). */
  private costReadings(): { heldSeconds: number; childCpuSeconds: number } {
    return { heldSeconds: this.heldClock.totalMs() / 1000, childCpuSeconds: this.childCpuSeconds() - this.run!.childCpuAtStart };
  }

  /** The economy's pacing, or the fixed one without it. */
  private pacing(): EconomyDecision {
    const run = this.run!;
    const intervalWaitMs = Math.max(0, this.lastStartMs + this.config.improvementIntervalMs - this.now());
    if (run.economy === null) return { state: 'searching', maxInFlight: this.config.maxConcurrentImprovements, waitMs: intervalWaitMs };
    if (run.economy.state === 'backed-off') this.noticeBottleneck();
    const view = {
      readings: this.costReadings(),
      remainingSeconds: this.remainingSeconds(),
      expectedImprovement: this.expectedImprovement(),
      liveMlups: this.liveMlups(),
      rooflineMlups: this.deps.rooflineMlups ?? null,
      inCacheMlups: this.inCacheCeiling(),
    };
    if (rooflineBinds(view) && run.economy.ceilingCanMatter(view)) {
      this.measureInCacheCeiling();
      // Judged on the roofline alone, the economy would back off only to resume when the ceiling arrives: the next start waits for it.
      if (this.inCache?.measuring === true) return { state: run.economy.state, maxInFlight: 1, waitMs: LOOP_POLL_MS };
    }
    return run.economy.decide(view);
  }

  /** The in-cache ceiling of the live step module (MLUPS), for the displays; null until it is measured, or with no economy. */
  inCacheMlups(): number | null {
    return this.run === null ? null : this.inCacheCeiling();
  }

  /** The live step module's in-cache rate; null until it is measured. */
  private inCacheCeiling(): number | null {
    const modulePath = this.run!.live.incumbents.get('step')?.modulePath;
    return modulePath !== undefined && this.inCache?.modulePath === modulePath ? this.inCache.mlups : null;
  }

  /**
   * Measures the live step module's in-cache rate in the background, unless
   * it is measured or being measured already: once per step module, when
   * the roofline bounds the gain. The result resumes a backed-off economy
   * (a higher ceiling can make an attempt pay again); a failed measurement
   * leaves the roofline as the only ceiling.
   */
  private measureInCacheCeiling(): void {
    const run = this.run;
    const modulePath = run?.live.incumbents.get('step')?.modulePath;
    if (!run?.economy || modulePath === undefined || this.inCache?.modulePath === modulePath || this.abort.signal.aborted) return;
    const measure = this.deps.inCacheMlups ?? ((file: string, hold: HoldLive) => measureInCacheMlups(file, this.config.lattice, this.seed, hold));
    const entry: InCacheCeiling = { modulePath, mlups: null, measuring: true };
    this.inCache = entry;
    const work = this.sandboxes
      // Queued behind a sandbox run, it may come after the stop: then it holds nothing.
      .run(() => (this.abort.signal.aborted ? Promise.resolve(null) : measure(modulePath, (timed) => this.holding(timed))))
      .then((mlups) => {
        if (mlups === null) return;
        entry.mlups = mlups;
        this.logger.info({ event: 'in-cache-ceiling', modulePath, mlups }, `in-cache ceiling of the live step kernel: ${mlups.toFixed(0)} MLUPS`);
        if (this.inCache === entry) this.run?.economy?.change(`the live step kernel's in-cache ceiling is ${mlups.toFixed(0)} MLUPS`);
      })
      .catch((error: unknown) =>
        this.logger.warn(
          { event: 'in-cache-ceiling', err: error, modulePath },
          'the in-cache ceiling could not be measured; the roofline stays the only ceiling',
        ),
      )
      .finally(() => {
        entry.measuring = false;
        this.reverifying.delete(work);
      });
    this.reverifying.add(work);
  }

  /** Seconds to the run's known end: the caller's runSeconds, else the wall-time budget; null when neither is set. */
  private remainingSeconds(): number | null {
    const runSeconds = this.deps.runSeconds ?? (this.config.budget.maxWallSeconds > 0 ? this.config.budget.maxWallSeconds : null);
    if (runSeconds === null) return null;
    return Math.max(0, runSeconds - (this.now() - this.run!.startedMs) / 1000);
  }

  /** The predictor's expected ln-speedup improvement of the next attempt over its slot's incumbent: the best slot's; null when unknown. */
  private expectedImprovement(): number | null {
    const { host, live } = this.run!;
    const gains = host.generatorSlots
      .map((slot) => host.predictor.expectedGain(live.incumbents.get(slot)?.speedup ?? 1))
      .filter((gain): gain is number => gain !== null);
    return gains.length === 0 ? null : Math.max(...gains);
  }

  /** The median of the latest samples the lattice stepped freely through; null before any. */
  private liveMlups(): number | null {
    const free = this.run!.sampler.samples.filter((sample) => sample.heldMs === 0 && sample.mlups > 0).slice(-LIVE_RATE_SAMPLES);
    if (free.length === 0) return null;
    const sorted = free.map((sample) => sample.mlups).sort((a, b) => a - b);
    return sorted[sorted.length >> 1]!;
  }

  /** The attempts go to the slot that takes the most time: when that moves, what an attempt can win moves with it. */
  private noticeBottleneck(): void {
    const slot = this.lattice.bottleneck()?.slot ?? null;
    if (slot !== null && this.bottleneckSlot !== null && slot !== this.bottleneckSlot) {
      this.run!.economy?.change(`the bottleneck moved from the ${this.bottleneckSlot} slot to the ${slot} slot`);
    }
    this.bottleneckSlot = slot ?? this.bottleneckSlot;
  }

  private budgetSpent(): BudgetReport | null {
    const { maxWallSeconds, maxAttempts, spendLimitUsd } = this.config.budget;
    const elapsedSeconds = (this.now() - this.run!.startedMs) / 1000;
    if (maxWallSeconds > 0 && elapsedSeconds >= maxWallSeconds) {
      return { budget: 'maxWallSeconds', reason: `the wall-time budget of ${maxWallSeconds} s is spent` };
    }
    if (maxAttempts > 0 && this.tickets >= maxAttempts) {
      return { budget: 'maxAttempts', reason: `the budget of ${maxAttempts} attempts is spent` };
    }
    if (spendLimitUsd > 0 && this.costUsd >= spendLimitUsd) {
      return { budget: 'spendLimitUsd', reason: `the spend limit of ${spendLimitUsd} USD is reached (${this.costUsd.toFixed(4)} USD spent)` };
    }
    return null;
  }

  /** Starts one attempt; resolves with its archive id once it has one. */
  private launch(request: AttemptRequest): Promise<number> {
    const run = this.run!;
    this.tickets += 1;
    this.lastStartMs = this.now();
    const ticket = this.tickets;
    const random = seededRandom((Math.imul(this.seed, 0x9e3779b1) + run.ticketBase + ticket) >>> 0);
    const runner = new AttemptRunner(run.host, ticket, random);
    const startedMs = this.now();
    run.economy?.attemptStarted();
    const recorded = deferred<number>();
    // Cut short when it ended because the run was stopping: it cost only part of what it would have.
    let ended: { record: AttemptRecord; cutShort: boolean } | null = null;
    const work = runner
      .run(request, (id) => {
        this.runIds.push(id);
        this.finished.set(id, this.finished.get(id) ?? deferred());
        const provisional = this.reports.get(-ticket);
        this.reports.delete(-ticket);
        if (provisional) this.reports.set(id, { ...provisional, id });
        recorded.resolve(id);
      })
      .then((record) => {
        ended = { record, cutShort: this.abort.signal.aborted };
        this.emit('attempt-finished', record);
        this.finished.get(record.id)?.resolve(record);
      })
      .catch((error: unknown) => {
        this.fail(error);
        // A write the archive refused: the caller hears the engine's sentence (which file, why), not SQLite's.
        recorded.reject(storageFailureCode(error) !== null && this.storageError !== null ? this.storageError : error);
      })
      .finally(() => {
        this.inFlight.delete(work);
        const charge = run.economy?.attemptFinished((this.now() - startedMs) / 1000, this.costReadings());
        try {
          if (charge !== undefined && ended !== null) run.attemptCosts.record(ended.record, charge, ended.cutShort);
        } catch (error) {
          this.fail(error);
        }
      });
    this.inFlight.add(work);
    return recorded.promise;
  }

  private phase(report: { id: number; slot: Slot; phase: AttemptPhase; parentId: number | null; generator: string }): void {
    const existing = this.reports.get(report.id);
    const record = report.phase === 'done' && report.id > 0 ? this.run!.archive.get(report.id) : null;
    const status: AttemptStatusReport = {
      ...report,
      status: record?.status ?? 'pending',
      failedGate: record?.failedGate ?? null,
      reason: record?.reason ?? '',
      startedAt: existing?.startedAt ?? new Date().toISOString(),
      finishedAt: record?.finishedAt ?? null,
    };
    this.reports.set(report.id, status);
    this.emit('attempt-phase', status);
  }

  private phaseOf(attemptId: number, phase: AttemptPhase): void {
    const existing = this.reports.get(attemptId);
    if (existing) this.phase({ id: attemptId, slot: existing.slot, phase, parentId: existing.parentId, generator: existing.generator });
  }

  /** Records an error the loop survived: logged, counted by the breaker, emitted when someone listens. */
  private fail(error: unknown): void {
    const failure = error instanceof Error ? error : new Error(String(error));
    const code = storageFailureCode(error);
    if (code !== null && this.storageError === null) {
      // Attempts started now could not be recorded: stop starting them, end those in flight, and say why.
      const file = this.run?.archive.file ?? this.config.archive.path;
      this.storageError = new Error(`archive ${file}: a write failed (${code}: ${failure.message}); the engine stopped starting attempts`);
      this.logger.error({ event: 'storage-failure', code, file }, this.storageError.message);
      if (this.listenerCount('error') > 0) this.emit('error', this.storageError);
      if (this.run !== null) void this.stop();
      return;
    }
    this.breaker.recordFailure('engine');
    this.logger.error({ event: 'error', err: failure }, failure.message);
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
    return this.launch(request);
  }

  /** Resolves with the archived record once the attempt has ended. */
  attemptFinished(id: number): Promise<AttemptRecord> {
    let waiting = this.finished.get(id);
    if (waiting === undefined) {
      waiting = deferred();
      this.finished.set(id, waiting);
      const record = this.run?.archive.get(id) ?? null;
      if (record !== null && record.status !== 'pending' && !this.reports.has(id)) waiting.resolve(record);
    }
    return waiting.promise;
  }

  /**
   * Where an attempt is: its phase and status. Attempts of this run are
   * known from the moment they start (negative ids are provisional: the
   * attempt has no archive record yet); earlier ones come from the archive.
   */
  getImprovementStatus(id: number): AttemptStatusReport | null {
    const known = this.reports.get(id);
    if (known) return { ...known };
    const record = this.run?.archive.get(id) ?? null;
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
    if (this.pausedReason !== null) return;
    this.pausedReason = reason;
    this.emit('paused', reason);
  }

  resume(): void {
    if (this.pausedReason === null) return;
    this.pausedReason = null;
    this.emit('resumed');
  }

  /** Samples taken so far (the newest last). */
  samples(): readonly EngineSample[] {
    return this.run?.sampler.samples ?? [];
  }

  /** The figures of the end-of-run table, now (or as they were at stop()). */
  summary(): EngineSummary {
    if (this.finalSummary !== null) return this.finalSummary;
    const run = this.run;
    if (run === null) throw new Error('summary(): the engine has not been started');
    return summarise({
      wallSeconds: (this.now() - run.startedMs) / 1000,
      steps: this.lattice.stepCount,
      samples: run.sampler.samples,
      baseline: this.baseline,
      final: this.final,
      records: this.recordsOfRun(run.archive),
      ledger: this.runLedger,
      economy: run.economy?.report() ?? null,
      maxEnergyDrift: run.sampler.maxEnergyDrift,
      incumbents: run.live.incumbents,
      liveNames: run.sampler.liveModules(),
      costUsd: this.costUsd,
      circuitOpenings: this.circuitOpenings,
      predictor: run.host.predictor.stats(),
      heldSeconds: this.heldClock.totalMs() / 1000,
      startStep: run.startStep,
      cells: this.lattice.cells,
      firstApplyAtSeconds: this.firstApplyAtMs === null ? null : (this.firstApplyAtMs - run.startedMs) / 1000,
    });
  }

  /**
   * This run's attempts as the archive holds them; none when the archive can
   * no longer be read (a PostgreSQL server gone away), so that a stop still
   * ends with a summary, which then counts no attempts.
   */
  private recordsOfRun(archive: Archive): AttemptRecord[] {
    try {
      return this.runIds.map((id) => archive.get(id)).filter((record): record is AttemptRecord => record !== null);
    } catch (error) {
      if (storageFailureCode(error) === null) throw error;
      this.fail(error);
      return [];
    }
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
   * abandoned with the incumbent live. Then measures a final window of at
   * most FINAL_WINDOW_MS, stops the lattice's run if start() began it,
   * closes the archive it opened, and returns the final summary: within
   * seconds of the call.
   */
  /**
   * After the archive failed, tries once more to close this engine's
   * attempts left pending as interrupted (the disk may have room again, a
   * lock may be gone). When it still cannot write, the storage failure's
   * sentence names them: they stay pending, and the next run on the archive
   * closes them, since their owner is gone by then.
   */
  private closeAfterStorageFailure(archive: Archive): void {
    try {
      const closed = archive.markInterrupted();
      if (closed > 0) this.logger.warn({ event: 'closed-after-storage-failure', closed }, `${closed} attempt(s) in flight were closed as interrupted`);
    } catch (error) {
      let pending: number[] = [];
      try {
        pending = archive
          .list({ status: 'pending' })
          .map((record) => record.id)
          .filter((id) => this.reports.has(id));
      } catch {
        // Not even readable: the sentence says what it already says.
      }
      if (pending.length === 0) return;
      const one = pending.length === 1;
      const which = `${one ? 'attempt' : 'attempts'} ${pending.join(', ')} could not be closed and ${one ? 'stays' : 'stay'} pending`;
      this.storageError = new Error(`${this.storageError!.message}; ${which}: the next run on this archive closes ${one ? 'it' : 'them'} as interrupted`, {
        cause: error,
      });
      this.logger.error({ event: 'pending-after-storage-failure', pending }, this.storageError.message);
    }
  }

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
    const settled = Promise.all([this.loopDone, Promise.allSettled([...this.inFlight, ...this.reverifying]), run.live.idle(), run.sampler.settled()]);
    const inTime = await withinMs(settled, STOP_GRACE_MS);
    if (!inTime) {
      try {
        const closed = run.archive.markInterrupted();
        this.logger.warn(
          { event: 'stop-grace-spent', closed },
          `${closed} attempt(s) did not end within ${STOP_GRACE_MS} ms of the stop; closed as interrupted`,
        );
      } catch (error) {
        // A failing archive must not keep the engine from stopping; the next run's markInterrupted() closes them.
        this.fail(error);
      }
    }
    if (this.storageError !== null) this.closeAfterStorageFailure(run.archive);
    this.final =
      this.baseline !== null && this.lattice.running
        ? await this.finalMlups().catch((error: unknown) => {
            this.fail(error);
            return null;
          })
        : null;
    const summary = this.summary();
    this.finalSummary = summary;
    run.live.dispose();
    if (run.ownsRun) await this.lattice.stop();
    if (run.ownsArchive) run.archive.close();
    this.emit('stopped');
    run.detachLog();
    this.logger.flush();
    this.stopped.resolve();
    return summary;
  }
}
