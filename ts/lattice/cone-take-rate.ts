/**
 * The cone probes' take rate beyond the plans, held to the cost share while
 * the step time changes. The rate buys cells a step at what a cell costs, so
 * it is right only while both figures are: the time a step takes now, and
 * what the calls cost on average.
 *
 * Before, the rate was solved only at each plan's verdict, from the time a
 * step took between the last two plans (up to 2 coneEverySteps steps apart,
 * more when the cone cadence deferred one) and from the lower medians of the
 * calls' costs (cone-cost.ts), then held until the next plan's verdict. When
 * the step time halved, the cells bought for slow steps were spent on fast
 * ones for one or two plan intervals; and a median sits below the mean at
 * which the share is actually spent whenever the costs are skewed, as CPU time
 * under load is (a call now and then slowed by the kernel's threads taking
 * the caches). Both overshoot; a run whose step time halved and doubled spent
 * 15% over the share.
 *
 * So the rate is solved again at every oracle call's verdict, with the time a
 * step takes over the latest RECENT_STEPS steps, and the fit's cost scaled by
 * what the calls of the last SPEND_WINDOW_MS really cost against what the fit
 * says they cost (spending accounted over a sliding window, dropped gathers
 * counted with it): the fit keeps its shape (a fixed part per call and a part
 * per cell, robust to one slowed call), the window sets its level, and a step
 * time that changes moves the rate within a few batches. The window's ratio
 * does not depend on the step time, so a change of pace is not answered twice
 * (once by the step time, once by a share measured over steps at the old pace).
 * Pure: the clock's readings, the steps and the costs are passed in.
 */
import { type ConeCostFit, affordableCellsPerStep } from './cone-cost.js';

/** How long the calls' measured costs count for the fit's level, in ms of the run's time. */
export const SPEND_WINDOW_MS = 30_000;
/** The calls that count whatever their age: a run that calls rarely still has a level. */
export const MIN_WINDOW_CALLS = 8;
/** The time a step takes now is measured over at least this many of the latest steps. */
export const RECENT_STEPS = 8;
/** Observations of the step count kept: enough to span RECENT_STEPS steps at several a batch. */
const MAX_OBSERVATIONS = 64;

interface Spending {
  atMs: number;
  /** Cells the call checked; 0 for spending no call's cells account for (the gathers of dropped extras). */
  cells: number;
  costMs: number;
}

export class ConeTakeRate {
  readonly #spent: Spending[] = [];
  /** Of #spent, those of calls (cells > 0). */
  #calls = 0;
  readonly #observed: { atMs: number; step: number }[] = [];

  constructor(readonly maxCostShare: number) {}

  /** The run was at `step` at `atMs`. A step below the last (a rollback) starts the step times afresh. */
  observeStep(atMs: number, step: number): void {
    const last = this.#observed.at(-1);
    if (last !== undefined && (step < last.step || atMs < last.atMs)) this.#observed.length = 0;
    // Still at the step last seen: its first sighting is the nearer to the boundary that reached it.
    else if (last !== undefined && step === last.step) return;
    this.#observed.push({ atMs, step });
    if (this.#observed.length > MAX_OBSERVATIONS) this.#observed.shift();
  }

  /** `costMs` spent at `atMs` on a call of `cells` cells (all it cost: gathers, JS thread, oracle), or on no cells. */
  spend(atMs: number, cells: number, costMs: number): void {
    if (!(costMs >= 0) || !Number.isFinite(costMs)) return;
    this.#spent.push({ atMs, cells, costMs });
    if (cells > 0) this.#calls += 1;
    this.#forgetBefore(atMs - SPEND_WINDOW_MS);
  }

  /** The time a step takes now, in ms: over the latest observations spanning RECENT_STEPS steps (all of them if fewer); 0 until two. */
  get msPerStep(): number {
    const observed = this.#observed;
    const newest = observed.at(-1);
    if (newest === undefined) return 0;
    let oldest = newest;
    for (let i = observed.length - 2; i >= 0 && newest.step - oldest.step < RECENT_STEPS; i--) oldest = observed[i]!;
    const steps = newest.step - oldest.step;
    return steps > 0 ? (newest.atMs - oldest.atMs) / steps : 0;
  }

  /**
   * What the window's calls cost over what `fit` says they cost (1 without
   * a fit or calls): the factor that brings the fit's level to the mean at
   * which the share is spent.
   */
  costRatio(fit: ConeCostFit | null): number {
    if (fit === null) return 1;
    let spentMs = 0;
    let modelledMs = 0;
    for (const { cells, costMs } of this.#spent) {
      spentMs += costMs;
      if (cells > 0) modelledMs += fit.fixedMs + fit.perCellMs * cells;
    }
    return modelledMs > 0 && spentMs > 0 ? spentMs / modelledMs : 1;
  }

  /**
   * Cells a step, all probes together, that the share affords now: the fit
   * scaled to what the window's calls cost, at the time a step takes now,
   * for calls of `cellsPerCall` cells at least every `maxAgeSteps` steps
   * (affordableCellsPerStep).
   */
  cellsPerStep(fit: ConeCostFit | null, cellsPerCall: number, maxAgeSteps: number): number {
    if (fit === null) return 0;
    const ratio = this.costRatio(fit);
    const scaled = { fixedMs: fit.fixedMs * ratio, perCellMs: fit.perCellMs * ratio };
    return affordableCellsPerStep(scaled, this.msPerStep, this.maxCostShare, cellsPerCall, maxAgeSteps);
  }

  /** Forgets spending before `ms`, but for the latest MIN_WINDOW_CALLS calls. */
  #forgetBefore(ms: number): void {
    const spent = this.#spent;
    while (spent.length > 0 && spent[0]!.atMs < ms && this.#calls > MIN_WINDOW_CALLS) {
      if (spent.shift()!.cells > 0) this.#calls -= 1;
    }
  }
}
