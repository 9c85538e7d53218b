/**
 * When the engine starts an attempt: the improvement loop, paced by the
 * economy (economy.ts) or, without it, by the fixed interval; held off by a
 * pause, the circuit breaker's backoff, a live change under way and
 * maxConcurrentImprovements; ended by a spent budget or the stop's abort.
 * It also measures what the pacing reads: the quiet baseline, the live
 * rate, the in-cache ceiling of the live step kernel, the bottleneck, and
 * the final window at stop; and it starts the economy from the
 * convergence an earlier run on this machine and lattice ended in, watches
 * that start for a change, and keeps the convergence this run ends in
 * (convergence.ts). It is apart from setup and from the attempt
 * tracker because it decides only when attempts start, never what they do
 * or what becomes of them.
 */
import os from 'node:os';
import type { BudgetReport } from './events.js';
import type { AttemptRequest } from './attempt-runner.js';
import type { AttemptTracker } from './attempt-tracker.js';
import type { EngineParts, Running } from './engine-setup.js';
import { type CarriedAttemptCost, Economy, type EconomyDecision, rooflineBinds } from './economy.js';
import { ConvergenceWatch, convergenceMismatch, convergenceToKeep, figuresOf } from './convergence.js';
import type { Slot } from '../gauntlet/types.js';
import { type HoldLive, measureInCacheMlups } from './in-cache-ceiling.js';
import type { BaselineSource } from './summary.js';
import { type ThroughputWindow, sleepMs } from './watch.js';

const LOOP_POLL_MS = 50;
/** The final quiet window at stop: short, so that a stop ends within seconds (the watch window may be longer). */
export const FINAL_WINDOW_MS = 1_000;
/**
 * What an attempt is taken to cost the live job before one has ended in
 * this run, in lattice-seconds, on a machine and lattice the archive has no
 * measured attempt for (attempt-costs.ts): a 90 s run at 4096^2 held the
 * lattice 54 s for 5 attempts.
 */
const PRIOR_ATTEMPT_COST_SECONDS = 10;
/** Recent free-running samples whose median is the live kernel's rate for the economy's headroom. */
const LIVE_RATE_SAMPLES = 5;

/** The run's economy, or null with economy.enabled false (the fixed pacing). Its transitions are the engine's 'economy' events. */
export function createEconomy(parts: EngineParts, carriedAttemptCost: CarriedAttemptCost | null): Economy | null {
  const { config } = parts;
  if (!config.economy.enabled) return null;
  return new Economy(
    {
      now: parts.now,
      maxDegradation: config.maxDegradation,
      childCpuCost: config.economy.childCpuCost,
      cores: os.availableParallelism(),
      horizonSeconds: config.economy.horizonMs / 1000,
      maxConcurrent: config.maxConcurrentImprovements,
      intervalMs: config.improvementIntervalMs,
      priorAttemptCostSeconds: PRIOR_ATTEMPT_COST_SECONDS,
      carriedAttemptCost,
    },
    (transition) => parts.events.emit('economy', transition),
  );
}

/** A baseline an earlier run measured, for the module it measured. */
export interface RememberedBaseline {
  window: ThroughputWindow;
  moduleSha256: string;
  recordedAt: string;
}

interface InCacheCeiling {
  modulePath: string;
  /** null until measured, and after a failed measurement. */
  mlups: number | null;
  measuring: boolean;
}

export class Scheduler {
  private run: Running | null = null;
  private pausedReason: string | null = null;
  private lastStartMs = -Infinity;
  /** The slot the profiler last named the bottleneck, while the economy was backed off. */
  private bottleneckSlot: Slot | null = null;
  /** The in-cache ceiling of the live step module, measured or being measured (mlups null). */
  private inCache: InCacheCeiling | null = null;
  private quietWindow: ThroughputWindow | null = null;
  private quietSource: BaselineSource | null = null;
  /** What a run started backed off from a remembered convergence watches for; null otherwise, and after the first change. */
  private convergenceWatch: ConvergenceWatch | null = null;
  /** Whether the improvement loop ran: a run that never paced attempts leaves the remembered convergence as it was. */
  private looped = false;

  constructor(
    private readonly parts: EngineParts,
    private readonly attempts: AttemptTracker,
  ) {}

  /** Schedules on `run` from now on. */
  begin(run: Running): void {
    this.run = run;
  }

  get paused(): boolean {
    return this.pausedReason !== null;
  }

  /** Stops starting attempts; false when already paused. */
  pause(reason: string): boolean {
    if (this.pausedReason !== null) return false;
    this.pausedReason = reason;
    return true;
  }

  /** false when not paused. */
  resume(): boolean {
    if (this.pausedReason === null) return false;
    this.pausedReason = null;
    return true;
  }

  /** The step kernel's quiet throughput, measured before anything started or remembered (baselineSource says which); null before it, or when it failed. */
  get baseline(): ThroughputWindow | null {
    return this.quietWindow;
  }

  /** Where the baseline came from; null while there is none. */
  get baselineSource(): BaselineSource | null {
    return this.quietSource;
  }

  /**
   * The baseline the archive remembers for the live step module on this
   * machine, lattice, precision and threads (a cold run measured it), or
   * null when it remembers none. With it, a warm start need not step the
   * reference kernel through a window first: at 4096^2 the reference runs
   * at a fifth of a remembered kernel's speed, and each second before the
   * swap cost 0.8 s of the run.
   */
  rememberedBaseline(): RememberedBaseline | null {
    const run = this.run!;
    const moduleSha256 = run.live.incumbents.get('step')?.moduleSha256;
    if (moduleSha256 === undefined) return null;
    try {
      const record = run.archive.baselines.latest(run.attemptCosts.key, moduleSha256);
      if (record === null) return null;
      const kernelNs = (this.parts.lattice.cells * record.steps * 1e3) / record.mlups;
      return { window: { steps: record.steps, kernelNs, wallMs: kernelNs / 1e6, mlups: record.mlups }, moduleSha256, recordedAt: record.recordedAt };
    } catch (error) {
      this.parts.fail(error);
      return null;
    }
  }

  /**
   * After a warm start that began from `remembered`: the remembered figure
   * is the baseline when another step kernel went live (measuring the one
   * it was remembered for would mean swapping it back); when nothing went
   * live, the kernel is still the one it was remembered for and is measured
   * afresh, as without a memory.
   */
  async settleBaseline(remembered: RememberedBaseline): Promise<void> {
    if (this.run!.live.incumbents.get('step')?.moduleSha256 === remembered.moduleSha256) {
      await this.measureBaseline();
      return;
    }
    this.quietWindow = remembered.window;
    this.quietSource = { kind: 'remembered', recordedAt: remembered.recordedAt };
  }

  /**
   * The baseline: step-kernel throughput with no attempt in flight, over a
   * trial window (trial.window, at least trial.minSteps steps) rather than a
   * watch window. Nothing starts before it ends, and a watch window (4 s,
   * 10 steps) at the reference kernel's 0.24 s per step at 4096^2 was a
   * third of a warm start's 8 s to a live kernel. Kernel time is timed
   * natively per call, so a few steps measure it well; a trial decides on
   * windows of the same length. The archive keeps it for later runs
   * (rememberedBaseline) when the kernel measured was live throughout.
   */
  async measureBaseline(): Promise<void> {
    const { config, signal } = this.parts;
    const run = this.run!;
    const moduleSha256 = run.live.incumbents.get('step')?.moduleSha256;
    try {
      const window = await this.parts.measure('step', { windowMs: config.trial.windowMs, minSteps: config.trial.minSteps, signal });
      this.quietWindow = window;
      this.quietSource = { kind: 'measured' };
      const unchanged = moduleSha256 !== undefined && run.live.incumbents.get('step')?.moduleSha256 === moduleSha256;
      if (unchanged && window.steps > 0 && window.mlups > 0 && !signal.aborted) {
        run.archive.baselines.record({ ...run.attemptCosts.key, moduleSha256, mlups: window.mlups, steps: window.steps });
      }
    } catch (error) {
      this.parts.fail(error);
    }
  }

  /** The step kernel's throughput at stop, over at most FINAL_WINDOW_MS whatever the watch window's length; null without a baseline to compare it with or a running lattice. */
  async finalWindow(): Promise<ThroughputWindow | null> {
    const { config, lattice } = this.parts;
    if (this.quietWindow === null || !lattice.running) return null;
    const windowMs = Math.min(config.watch.windowMs, FINAL_WINDOW_MS);
    try {
      return await this.parts.measure('step', { windowMs, minSteps: config.watch.minSteps, timeoutMs: FINAL_WINDOW_MS });
    } catch (error) {
      this.parts.fail(error);
      return null;
    }
  }

  /**
   * Starts attempts as the pacing allows until the stop's abort or a spent
   * budget, then waits for those in flight; resolves with the spent budget
   * (null after an abort). The loop never dies of an exception: each one is
   * the engine's to record (parts.fail).
   */
  async loop(): Promise<BudgetReport | null> {
    let budget: BudgetReport | null = null;
    this.looped = true;
    while (!this.parts.signal.aborted) {
      try {
        budget = this.budgetSpent();
        if (budget !== null) break;
        const waitMs = this.startWaitMs();
        if (waitMs > 0) {
          await sleepMs(Math.min(waitMs, LOOP_POLL_MS));
          continue;
        }
        this.launch({}).catch((error: unknown) => this.parts.fail(error));
      } catch (error) {
        this.parts.fail(error);
        await sleepMs(LOOP_POLL_MS);
      }
    }
    await this.attempts.attemptsSettled();
    return budget;
  }

  /** Starts one attempt now, counted against the budgets; resolves with its archive id once it has one. */
  launch(request: AttemptRequest): Promise<number> {
    const run = this.run!;
    const { now, seed } = this.parts;
    this.lastStartMs = now();
    run.economy?.attemptStarted();
    return this.attempts.launch(
      run.host,
      request,
      (ticket) => (Math.imul(seed, 0x9e3779b1) + run.ticketBase + ticket) >>> 0,
      (seconds, finished) => {
        const charge = run.economy?.attemptFinished(seconds, this.costReadings());
        // Cut short when it ended because the run was stopping: it cost only part of what it would have.
        try {
          if (charge !== undefined && finished !== null) run.attemptCosts.record(finished.record, charge, finished.cutShort);
        } catch (error) {
          this.parts.fail(error);
        }
      },
    );
  }

  /** How long the loop must wait before it may start another attempt (0: now). */
  private startWaitMs(): number {
    if (this.pausedReason !== null) return LOOP_POLL_MS;
    const inFlight = this.attempts.inFlightCount;
    if (inFlight >= this.parts.config.maxConcurrentImprovements) return LOOP_POLL_MS;
    // No new gauntlet load while the live kernel is being measured for a swap.
    if (this.run!.live.busy) return LOOP_POLL_MS;
    const breakerMs = this.parts.breaker.remainingMs();
    if (breakerMs > 0) return breakerMs;
    const pacing = this.pacing();
    if (inFlight >= pacing.maxInFlight) return LOOP_POLL_MS;
    return pacing.waitMs;
  }

  /** What the economy measures, cumulative since start(). */
  private costReadings(): { heldSeconds: number; childCpuSeconds: number } {
    const run = this.run!;
    return { heldSeconds: this.parts.heldClock.totalMs() / 1000, childCpuSeconds: this.parts.childCpuSeconds() - run.childCpuAtStart };
  }

  /** The economy's pacing, or the fixed one without it. */
  private pacing(): EconomyDecision {
    const run = this.run!;
    const { config } = this.parts;
    const intervalWaitMs = Math.max(0, this.lastStartMs + config.improvementIntervalMs - this.parts.now());
    if (run.economy === null) return { state: 'searching', maxInFlight: config.maxConcurrentImprovements, waitMs: intervalWaitMs };
    if (run.economy.state === 'backed-off') {
      const slot = this.parts.lattice.bottleneck()?.slot ?? null;
      this.watchConvergence(slot);
      this.noticeBottleneck(slot);
    } else {
      this.convergenceWatch = null;
    }
    const view = {
      readings: this.costReadings(),
      remainingSeconds: this.remainingSeconds(),
      expectedImprovement: this.expectedImprovement(),
      liveMlups: this.liveMlups(),
      rooflineMlups: this.parts.deps.rooflineMlups ?? null,
      inCacheMlups: this.inCacheCeiling(),
    };
    if (rooflineBinds(view) && run.economy.ceilingCanMatter(view)) {
      this.measureInCacheCeiling();
      // Judged on the roofline alone, the economy would back off only to resume when the ceiling arrives: the next start waits for it.
      if (this.inCache?.measuring === true) return { state: run.economy.state, maxInFlight: 1, waitMs: LOOP_POLL_MS };
    }
    return run.economy.decide(view);
  }

  /** The live step module's in-cache rate (MLUPS); null before start(), until it is measured, and with no economy. */
  inCacheCeiling(): number | null {
    const modulePath = this.run?.live.incumbents.get('step')?.modulePath;
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
    const { config, deps, logger, signal } = this.parts;
    const modulePath = run?.live.incumbents.get('step')?.modulePath;
    if (!run?.economy || modulePath === undefined || this.inCache?.modulePath === modulePath || signal.aborted) return;
    const measure = deps.inCacheMlups ?? ((file: string, hold: HoldLive) => measureInCacheMlups(file, config.lattice, this.parts.seed, hold));
    const entry: InCacheCeiling = { modulePath, mlups: null, measuring: true };
    this.inCache = entry;
    const work = this.parts.sandboxes
      // Queued behind a sandbox run, it may come after the stop: then it holds nothing.
      .run(() => (signal.aborted ? Promise.resolve(null) : measure(modulePath, (timed) => this.parts.hold(timed))))
      .then((mlups) => {
        if (mlups === null) return;
        entry.mlups = mlups;
        logger.info({ event: 'in-cache-ceiling', modulePath, mlups }, `in-cache ceiling of the live step kernel: ${mlups.toFixed(0)} MLUPS`);
        if (this.inCache === entry) run.economy?.change(`the live step kernel's in-cache ceiling is ${mlups.toFixed(0)} MLUPS`);
      })
      .catch((error: unknown) =>
        logger.warn({ event: 'in-cache-ceiling', err: error, modulePath }, 'the in-cache ceiling could not be measured; the roofline stays the only ceiling'),
      )
      .finally(() => {
        entry.measuring = false;
      });
    this.attempts.addBeside(work);
  }

  /** Seconds to the run's known end: the caller's runSeconds, else the wall-time budget; null when neither is set. */
  private remainingSeconds(): number | null {
    const { config, deps } = this.parts;
    const runSeconds = deps.runSeconds ?? (config.budget.maxWallSeconds > 0 ? config.budget.maxWallSeconds : null);
    if (runSeconds === null) return null;
    return Math.max(0, runSeconds - (this.parts.now() - this.run!.startedMs) / 1000);
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
  private noticeBottleneck(slot: Slot | null): void {
    if (slot !== null && this.bottleneckSlot !== null && slot !== this.bottleneckSlot) {
      this.run!.economy?.change(`the bottleneck moved from the ${this.bottleneckSlot} slot to the ${slot} slot`);
    }
    this.bottleneckSlot = slot ?? this.bottleneckSlot;
  }

  /**
   * Before the loop, once the warm start has put the remembered modules
   * live: when the archive remembers that the search converged on this
   * machine and lattice, with the module now live in the slot it converged
   * on and this generator, the economy starts backed off on that run's
   * figures, with the live step module's in-cache ceiling as that run
   * measured it (measuring it again holds the live lattice, and its result
   * would count as a change), and a ConvergenceWatch for what would make it
   * search again.
   */
  startFromConvergence(): void {
    const run = this.run!;
    if (run.economy === null) return;
    try {
      const record = run.archive.convergence.latest(run.attemptCosts.key);
      if (record === null) return;
      const mismatch = convergenceMismatch(record, { moduleSha256: run.live.incumbents.get(record.slot)?.moduleSha256, generator: run.host.generator.name });
      if (mismatch !== null) {
        this.parts.logger.info(
          { event: 'convergence', recordedAt: record.recordedAt, mismatch },
          `the search converged on this machine and lattice (${record.recordedAt}), but ${mismatch}: it searches`,
        );
        return;
      }
      const modulePath = run.live.incumbents.get('step')?.modulePath;
      if (record.slot === 'step' && record.inCacheMlups !== null && modulePath !== undefined) {
        this.inCache = { modulePath, mlups: record.inCacheMlups, measuring: false };
      }
      this.bottleneckSlot = record.slot;
      this.convergenceWatch = new ConvergenceWatch(record, run.sampler.samples.at(-1)?.atMs ?? -Infinity);
      run.economy.startConverged(
        figuresOf(record),
        `the search converged on this machine and lattice with this ${record.slot} module live (${record.recordedAt})`,
      );
    } catch (error) {
      this.parts.fail(error);
    }
  }

  /** A run started from a remembered convergence searches again at the first change its watch sees. */
  private watchConvergence(bottleneckSlot: Slot | null): void {
    const watch = this.convergenceWatch;
    const run = this.run!;
    if (watch === null) return;
    const reason = watch.changed({
      moduleSha256: run.live.incumbents.get(watch.record.slot)?.moduleSha256,
      bottleneckSlot,
      samples: run.sampler.samples,
      busy: run.account.reverifying || this.attempts.inFlightCount > 0 || run.live.busy,
    });
    if (reason === null) return;
    this.convergenceWatch = null;
    run.economy?.change(reason);
  }

  /**
   * At stop: a run whose loop ended backed off keeps in the archive what it
   * converged on (the bottleneck slot, its live module, the generator, the
   * figures), in place of what its key remembered; one that ended
   * searching forgets it, since what was remembered no longer held. A run
   * whose loop never ran leaves it as it was.
   */
  rememberConvergence(): void {
    const run = this.run;
    if (run?.economy == null || !this.looped) return;
    const key = run.attemptCosts.key;
    try {
      const figures = run.economy.converged();
      const slot = this.bottleneckSlot ?? 'step';
      const moduleSha256 = run.live.incumbents.get(slot)?.moduleSha256;
      const kept =
        figures === null || moduleSha256 === undefined ? null : convergenceToKeep(key, { slot, moduleSha256, generator: run.host.generator.name }, figures);
      if (kept === null) run.archive.convergence.forget(key);
      else run.archive.convergence.record(kept);
    } catch (error) {
      this.parts.logger.warn({ event: 'convergence', err: error }, 'the convergence this run ended in could not be kept in the archive');
    }
  }

  private budgetSpent(): BudgetReport | null {
    const { maxWallSeconds, maxAttempts, spendLimitUsd } = this.parts.config.budget;
    const elapsedSeconds = (this.parts.now() - this.run!.startedMs) / 1000;
    if (maxWallSeconds > 0 && elapsedSeconds >= maxWallSeconds) {
      return { budget: 'maxWallSeconds', reason: `the wall-time budget of ${maxWallSeconds} s is spent` };
    }
    if (maxAttempts > 0 && this.attempts.tickets >= maxAttempts) {
      return { budget: 'maxAttempts', reason: `the budget of ${maxAttempts} attempts is spent` };
    }
    const costUsd = this.attempts.costUsd;
    if (spendLimitUsd > 0 && costUsd >= spendLimitUsd) {
      return { budget: 'spendLimitUsd', reason: `the spend limit of ${spendLimitUsd} USD is reached (${costUsd.toFixed(4)} USD spent)` };
    }
    return null;
  }
}
