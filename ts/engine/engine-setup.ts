/**
 * How an engine is made and how a run is set up and closed: the parts the
 * engine keeps for its life (clock, log, breaker, gauntlet resources, the
 * sandbox queue), then at start() the archive (pending attempts of a killed
 * engine closed), the machine's fingerprint, the roots, the live modules
 * adopted, the live changes, the sampler, what attempts run on, the warm
 * start, and at stop() what the run opened. It is apart from the scheduler
 * and the attempt tracker because it runs once per run, before and after
 * them, and is where every injected dependency (EngineDeps) takes effect.
 */
import type { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kernelModulePath, packageRoot } from '../../native/loader.js';
import { Archive } from '../archive/archive.js';
import { storageFailureCode } from '../archive/errors.js';
import { machineFingerprint } from '../archive/fingerprint.js';
import type { MachineFingerprint } from '../archive/types.js';
import type { GauntletPool } from '../gauntlet/pool.js';
import { SerialQueue } from '../gauntlet/serial-queue.js';
import type { Slot } from '../gauntlet/types.js';
import type { Generator } from '../generators/types.js';
import { type Lattice, SLOTS } from '../lattice/lattice.js';
import type { AttemptHost, Approver } from './attempt-runner.js';
import type { AttemptTracker } from './attempt-tracker.js';
import { predictorSample } from './candidate-features.js';
import { childCpuSeconds } from './child-cpu.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { type EngineConfig, archiveLocation } from './config.js';
import { AttemptCostLog, attemptCostKey } from './attempt-costs.js';
import type { Economy } from './economy.js';
import type { EngineEvents } from './events.js';
import { generatorFromConfig } from './generator-factory.js';
import { HeldClock } from './held-clock.js';
import type { HoldLive } from './in-cache-ceiling.js';
import type { GauntletResources } from './judge.js';
import { LiveChanges, type WindowMeasure, fileSha256 } from './live-changes.js';
import { type EngineLogger, createEngineLog, logEngineEvents } from './log.js';
import { Predictor, type PredictorOptions } from './predictor.js';
import { RunAccount } from './run-account.js';
import { LiveSampler } from './sampler.js';
import { createEconomy } from './scheduler.js';
import { StrategyMemory } from './strategy-memory.js';
import { driftTolerance, watchdogOptions } from './main-lattice.js';
import type { ThroughputWindow } from './watch.js';
import { measureSlot } from './watch.js';
import { warmStartSlot } from './warm-start.js';

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

/** What the engine keeps for its whole life, made once at construction: setup, scheduler and tracker share it. */
export interface EngineParts {
  readonly lattice: Lattice;
  readonly config: EngineConfig;
  readonly deps: EngineDeps;
  readonly now: () => number;
  readonly seed: number;
  readonly logger: EngineLogger;
  readonly measure: WindowMeasure;
  readonly heldClock: HeldClock;
  readonly breaker: CircuitBreaker;
  /** Sandbox runs, live trials and in-cache measurements, one at a time (see LiveChangeSettings.sandboxQueue). */
  readonly sandboxes: SerialQueue;
  readonly gauntlet: GauntletResources;
  /** Aborted by stop(): attempts, the warm start, measurements and the loop end. */
  readonly signal: AbortSignal;
  readonly events: EventEmitter<EngineEvents>;
  /** Records an error the engine survived: logged, counted by the breaker, emitted when someone listens (Engine's fail). */
  readonly fail: (error: unknown) => void;
  /** Runs `work` with the live lattice held at a step boundary (counted as held time); a lattice someone else paused stays paused. */
  hold<T>(work: () => Promise<T>): Promise<T>;
  /** CPU seconds of this process's ended children so far. */
  childCpuSeconds(): number;
}

/** A run's state once start() has set it up. */
export interface Running {
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
  /** Where the run's time went (run-account.ts). */
  account: RunAccount;
  /** Lattice.watchdogCheckMs when the run began: the account counts the checks from here. */
  watchdogCheckMsAtStart: number;
}

const REFERENCE_SOURCE = path.join(packageRoot, 'cpp', 'kernels', 'reference.cpp');

export function makeParts(
  lattice: Lattice,
  config: EngineConfig,
  deps: EngineDeps,
  signal: AbortSignal,
  events: EventEmitter<EngineEvents>,
  fail: (error: unknown) => void,
): EngineParts {
  const now = deps.now ?? (() => performance.now());
  const heldClock = new HeldClock(now);
  const sandboxes = new SerialQueue();
  const hold = <T>(work: () => Promise<T>) => holding(lattice, heldClock, work);
  // With gauntlet.holdLive, a sandbox run's benchmark times the kernels on free cores, not against the
  // simulation's own threads (which favour kernels that cope with a contended machine over the fastest on a
  // quiet one); the watchdog's checks wait too, as one on the event loop's core would compete just the same.
  const holdingLive = <T>(work: () => Promise<T>) => (config.gauntlet.holdLive ? hold(work) : work());
  return {
    lattice,
    config,
    deps,
    now,
    seed: deps.seed ?? config.seed,
    logger: deps.logger ?? createEngineLog(config.log),
    measure: deps.measureWindow ?? ((slot, options) => measureSlot(lattice, slot, options)),
    heldClock,
    breaker: new CircuitBreaker({
      failures: config.breaker.failures,
      backoffMs: config.breaker.backoffMs,
      maxBackoffMs: config.breaker.maxBackoffMs,
      now,
    }),
    sandboxes,
    gauntlet: {
      pool: deps.pool,
      sandboxQueue: { run: (work) => sandboxes.run(() => holdingLive(work)) },
      ...(deps.evaluate ? { evaluate: deps.evaluate } : {}),
    },
    signal,
    events,
    fail,
    hold,
    childCpuSeconds: () => (deps.childCpuSeconds ?? childCpuSeconds)(),
  };
}

async function holding<T>(lat: Lattice, heldClock: HeldClock, work: () => Promise<T>): Promise<T> {
  if (!lat.running || lat.paused) return work();
  const releaseChecks = lat.holdWatchdogChecks();
  lat.pause();
  const release = heldClock.hold();
  try {
    return await work();
  } finally {
    release();
    if (lat.running) lat.resume();
    releaseChecks();
  }
}

/**
 * Opens the archive (marking attempts a killed engine left pending), adopts
 * the live modules, runs the lattice with the watchdog if it is not running
 * already and makes the sampler (not yet started) and what attempts run on.
 * A refused archive write at start throws a sentence naming the file.
 */
export async function setUpRun(parts: EngineParts, attempts: AttemptTracker): Promise<Running> {
  const { config, deps } = parts;
  const detachLog = logEngineEvents(parts.events, parts.logger);
  const fingerprint = await machineFingerprint();
  const ownsArchive = deps.archive === undefined;
  const archive = deps.archive ?? Archive.open(archiveLocation(config.archive));
  try {
    return { ...runOn(parts, attempts, archive, fingerprint), ownsArchive, detachLog };
  } catch (error) {
    detachLog();
    if (ownsArchive) archive.close();
    const code = storageFailureCode(error);
    // A full or read-only archive at start: say which file and why, as the loop does when it meets one later.
    if (code !== null)
      throw new Error(`archive ${archive.file}: a write failed (${code}: ${(error as Error).message}); the engine could not start`, { cause: error });
    throw error;
  }
}

/** The run on an open archive: all of Running but what setUpRun undoes when this throws. */
function runOn(parts: EngineParts, attempts: AttemptTracker, archive: Archive, fingerprint: MachineFingerprint): Omit<Running, 'ownsArchive' | 'detachLog'> {
  const { lattice, config, deps, logger } = parts;
  for (const record of archive.orphanedAttempts()) {
    logger.warn({ event: 'interrupted', id: record.id }, `attempt ${record.id} was left pending by an engine that ended first`);
  }
  archive.markInterrupted();
  const roots = ensureRoots(archive);
  const records = archive.list();
  // Outcomes are attempts the gauntlet judged: not the roots, generator failures, skips or interrupted ones.
  const learnable = records.filter((record) => record.parentId !== null && record.gates.length > 0 && record.status !== 'interrupted');
  const memory = StrategyMemory.fromRecords(learnable);
  const predictor = Predictor.fromRecords(learnable, predictorSample, deps.predictor);
  const given = deps.generator ? { generator: deps.generator, slots: deps.generatorSlots ?? (['step'] as const) } : generatorFromConfig(config, memory);
  const configured = deps.wrapGenerator ? { ...given, generator: deps.wrapGenerator(given.generator) } : given;
  const threads = config.lattice.threads > 0 ? config.lattice.threads : os.availableParallelism();
  const attemptCosts = new AttemptCostLog(archive.attemptCosts, attemptCostKey(lattice, threads, fingerprint));
  const economy = createEconomy(parts, attemptCosts.carried(configured.slots));
  const startedMs = parts.now();
  const account = new RunAccount(parts.now, startedMs);
  const live = liveChanges(parts, archive, attempts, economy, account);
  adoptLiveModules(parts, archive, live, roots, attempts);
  const ownsRun = !lattice.running;
  if (ownsRun) {
    lattice
      .run({ watchdog: watchdogOptions(config) })
      .then((summary) => summary.error !== null && parts.fail(new Error(`the lattice's run ended: ${summary.error}`)))
      .catch((error: unknown) => parts.fail(error));
  }
  const sampler = new LiveSampler(lattice, {
    sampleIntervalMs: config.sampleIntervalMs,
    energyIntervalMs: config.energyIntervalMs,
    now: parts.now,
    heldMs: () => parts.heldClock.totalMs(),
    onSample: (sample) => parts.events.emit('sample', sample),
    onError: (error) => parts.fail(error),
  });
  const host = attemptHost(parts, attempts, { archive, fingerprint, live, memory, predictor, configured, roots, sampler });
  return {
    archive,
    fingerprint,
    ownsRun,
    live,
    sampler,
    host,
    roots,
    startedMs,
    startStep: lattice.stepCount,
    ticketBase: records.length,
    economy,
    attemptCosts,
    childCpuAtStart: parts.childCpuSeconds(),
    account,
    watchdogCheckMsAtStart: lattice.watchdogCheckMs,
  };
}

/** What the run's attempts run on, and how they report back to the tracker. */
function attemptHost(
  parts: EngineParts,
  attempts: AttemptTracker,
  run: {
    archive: Archive;
    fingerprint: MachineFingerprint;
    live: LiveChanges;
    memory: StrategyMemory;
    predictor: Predictor;
    configured: { generator: Generator; slots: readonly Slot[] };
    roots: Map<Slot, number>;
    sampler: LiveSampler;
  },
): AttemptHost {
  const { archive, fingerprint, live, memory, predictor, configured, roots, sampler } = run;
  return {
    lat: parts.lattice,
    config: parts.config,
    archive,
    fingerprint,
    live,
    breaker: parts.breaker,
    memory,
    predictor,
    generator: configured.generator,
    generatorSlots: configured.slots,
    gauntlet: parts.gauntlet,
    ...(parts.deps.approve ? { approve: parts.deps.approve } : {}),
    signal: parts.signal,
    rootOf: (slot) => roots.get(slot)!,
    liveMlups: () => sampler.samples.at(-1)?.mlups ?? 0,
    phase: (report) => attempts.phase(report),
    gateProgress: (report) => parts.events.emit('gate-progress', report),
    addCost: (usd) => attempts.addCost(usd),
  };
}

function ensureRoots(archive: Archive): Map<Slot, number> {
  const source = readFileSync(REFERENCE_SOURCE, 'utf8');
  const sha256 = fileSha256(kernelModulePath('reference'));
  return new Map(SLOTS.map((slot) => [slot, archive.ensureRoot(slot, source, sha256).id]));
}

function liveChanges(parts: EngineParts, archive: Archive, attempts: AttemptTracker, economy: Economy | null, account: RunAccount): LiveChanges {
  const { config, events } = parts;
  return new LiveChanges(
    parts.lattice,
    archive.ledger,
    {
      trustGeneratedSources: parts.deps.trustGeneratedSources === true,
      canarySteps: config.canary.steps,
      canaryTolerance: config.canary.tolerance,
      watchWindowMs: config.watch.windowMs,
      watchMinSteps: config.watch.minSteps,
      maxDegradation: config.maxDegradation,
      driftTolerance: driftTolerance(config),
      trialWindowMs: config.trial.windowMs,
      trialMinSteps: config.trial.minSteps,
      trialMaxPairs: config.trial.maxPairs,
      trialMinGain: config.trial.minGain,
      trialMaxSlowerLiveMs: config.trial.maxSlowerLiveMs,
      sandboxQueue: parts.sandboxes,
      now: parts.now,
    },
    {
      phase: (attemptId, phase) => attempts.phaseOf(attemptId, phase),
      applied: (entry) => {
        if (entry.action === 'warm-start') account.warmLive();
        attempts.recordApplied(entry);
        economy?.change(`a new ${entry.slot} kernel is live`);
        events.emit('applied', entry);
      },
      rolledBack: (entry) => {
        attempts.recordLedger(entry);
        economy?.change(`the ${entry.slot} kernel was rolled back`);
        events.emit('rolled-back', entry);
      },
      incumbentLost: (attemptId, reason, entry) => {
        // A remembered module the watchdog threw out (a warm start goes live with no canary under it) is forgotten, not offered again.
        if (archive.warmStart.remembered(entry.slot)?.attemptId === attemptId) archive.warmStart.markFailed(entry.slot, attemptId, reason);
        const record = archive.updateAttempt(attemptId, { status: 'rolled-back', reason });
        events.emit('attempt-finished', record);
      },
      trialEnded: (lossSeconds) => economy?.chargeTrialLoss(lossSeconds),
      spent: (part, ms) => account.spent(part, ms),
    },
    parts.measure,
  );
}

/**
 * The module live in each slot now is the root when it is the reference
 * kernel, else the latest archived attempt built to the same bytes, else
 * (a kernel the archive never saw) it is treated as the root and the log says so.
 */
function adoptLiveModules(parts: EngineParts, archive: Archive, live: LiveChanges, roots: Map<Slot, number>, attempts: AttemptTracker): void {
  const slots = parts.lattice.slots();
  for (const slot of SLOTS) {
    const module = slots[slot].live;
    const moduleSha256 = fileSha256(module.path);
    const records = archive.list({ slot });
    const root = records.find((record) => record.id === roots.get(slot))!;
    let record = root.moduleSha256 === moduleSha256 ? root : records.filter((r) => r.moduleSha256 === moduleSha256).at(-1);
    if (record === undefined) {
      parts.logger.warn({ event: 'unknown-live-module', slot, path: module.path }, `the live ${slot} module is not in the archive; treating it as the root`);
      record = root;
    }
    live.adopt({ slot, attemptId: record.id, moduleId: module.id, modulePath: module.path, moduleSha256, speedup: record.speedup ?? 1 });
    recordRestart(parts.lattice, archive, attempts, { slot, attemptId: record.id, name: module.name, moduleSha256 });
  }
}

/**
 * When the ledger's last change of `slot` left another module live than
 * the one this run starts with (a new process starts on the reference),
 * records the return, so that replaying the ledger gives what ran.
 */
function recordRestart(
  lattice: Lattice,
  archive: Archive,
  attempts: AttemptTracker,
  started: { slot: Slot; attemptId: number; name: string; moduleSha256: string },
): void {
  const { slot, attemptId, name, moduleSha256 } = started;
  const last = archive.ledger.latest(slot);
  if (last === null || last.moduleSha256 === moduleSha256) return;
  const entry = archive.ledger.append({
    action: 'restart',
    slot,
    attemptId,
    moduleSha256,
    previousModuleSha256: last.moduleSha256,
    atStep: lattice.stepCount,
    reason: `a new run started with ${name} (attempt ${attemptId}) live; ledger entry ${last.sequence} had left attempt ${last.attemptId ?? 'none'}'s module there`,
  });
  attempts.recordLedger(entry);
}

/**
 * Puts each slot's remembered module live at once; its re-verification
 * runs in the background, beside the improvement loop (stop() aborts it
 * and waits for it as for an attempt in flight). `baseline` is the step
 * slot's window measured just before, with nothing changed since: the warm
 * start's swap need not measure it again.
 */
export async function warmStart(parts: EngineParts, run: Running, attempts: AttemptTracker, baseline: ThroughputWindow | null): Promise<void> {
  const host = {
    config: parts.config,
    archive: run.archive,
    fingerprint: run.fingerprint,
    live: run.live,
    gauntlet: parts.gauntlet,
    signal: parts.signal,
    incumbentWindow: baseline,
    childCpuSeconds: () => parts.childCpuSeconds(),
    bookReverificationCpu: (cpuSeconds: number) => {
      run.economy?.chargeReverification(cpuSeconds);
      run.account.bookReverificationCpu(cpuSeconds);
    },
    reverificationStarted: () => run.account.reverificationStarted(),
  };
  for (const slot of run.host.generatorSlots) {
    try {
      const { report, reverified } = await warmStartSlot(host, slot);
      parts.events.emit('warm-start', report);
      if (reverified === null) continue;
      attempts.addBeside(reverified.then((later) => parts.events.emit('warm-start', later)).catch((error: unknown) => parts.fail(error)));
    } catch (error) {
      parts.fail(error);
    }
  }
}

/** Undoes what setUpRun opened: stops following the watchdog, stops the lattice's run if it began it, closes the archive it opened. */
export async function closeRun(parts: EngineParts, run: Running): Promise<void> {
  run.live.dispose();
  if (run.ownsRun) await parts.lattice.stop();
  if (run.ownsArchive) run.archive.close();
}
