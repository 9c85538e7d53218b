/**
 * What the cone probes' checks cost the run, as a fixed part per oracle call
 * and a part per cell, and the cells a step a cost share buys with them.
 *
 * A check's cost is the runner's gathers of its cells, the JS thread's CPU
 * time (taking the cones, sending them, comparing) and the oracle thread's
 * CPU time: the time those threads take from the kernel's cores. Wall time
 * would also count the spans a thread waited for a core while the kernel
 * ran, which cost the kernel nothing (at 4096^2 with the kernel on both
 * cores, about three quarters of a small probe's 2.3 ms of JS wall time).
 * A call's fixed part (the napi calls, the thread hop, the promise) was most
 * of a small probe's cost, so the watchdog sends many probes in one call
 * (cone-batch.ts), and the rate is solved for the calls it will make: a
 * call when a batch holds `cellsPerCall` cells, or at least once every
 * `maxAgeSteps` steps. Pure: the costs are passed in.
 */

/** How many of the latest calls the fit goes by. */
export const COST_CALLS = 8;

/** Calls of one size apart by less than this ratio of cells do not tell the fixed part from the per-cell one. */
const SPREAD_FOR_SLOPE = 1.5;

export interface ConeCallCost {
  cells: number;
  costMs: number;
}

export interface ConeCostFit {
  fixedMs: number;
  perCellMs: number;
}

/** The lower median: the middle value, or the lesser of the middle two. */
function lowerMedian(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/**
 * The fixed and per-cell cost of the latest calls, robust to one slowed by
 * something else (Theil-Sen: the lower median of the slopes between calls of
 * different sizes, then of what each call leaves for the fixed part); with
 * calls all of about one size, all of it per cell. Null before any call.
 */
export function fitConeCost(calls: readonly ConeCallCost[]): ConeCostFit | null {
  const usable = calls.filter((call) => call.cells > 0 && Number.isFinite(call.costMs) && call.costMs >= 0);
  if (usable.length === 0) return null;
  const slopes: number[] = [];
  for (let i = 0; i < usable.length; i++) {
    for (let j = i + 1; j < usable.length; j++) {
      const [a, b] = usable[i]!.cells < usable[j]!.cells ? [usable[i]!, usable[j]!] : [usable[j]!, usable[i]!];
      if (b.cells >= SPREAD_FOR_SLOPE * a.cells) slopes.push((b.costMs - a.costMs) / (b.cells - a.cells));
    }
  }
  const slope = slopes.length === 0 ? Number.NaN : lowerMedian(slopes);
  if (!(slope > 0)) return { fixedMs: 0, perCellMs: lowerMedian(usable.map((call) => call.costMs / call.cells)) };
  const fixedMs = Math.max(0, lowerMedian(usable.map((call) => call.costMs - slope * call.cells)));
  return { fixedMs, perCellMs: slope };
}

/**
 * Cells a step, all probes together, that `maxCostShare` of a step of
 * `msPerStep` affords at `fit`, when a call is made once a batch holds
 * `cellsPerCall` cells and at least every `maxAgeSteps` steps: the cost per
 * step r x perCell + fixed x max(1 / maxAgeSteps, r / cellsPerCall) must
 * stay within the share. 0 before a rate is measured; Infinity when nothing
 * measurable is spent per cell or call.
 */
export function affordableCellsPerStep(fit: ConeCostFit | null, msPerStep: number, maxCostShare: number, cellsPerCall: number, maxAgeSteps: number): number {
  if (fit === null || !(msPerStep > 0)) return 0;
  const shareMs = maxCostShare * msPerStep;
  const { fixedMs, perCellMs } = fit;
  // Calls at least every maxAgeSteps steps, whatever the rate.
  const byAge = perCellMs > 0 ? (shareMs - fixedMs / maxAgeSteps) / perCellMs : fixedMs / maxAgeSteps < shareMs ? Infinity : 0;
  // Calls of cellsPerCall cells each at higher rates.
  const perCellAll = perCellMs + fixedMs / cellsPerCall;
  const bySize = perCellAll > 0 ? shareMs / perCellAll : Infinity;
  return Math.max(0, Math.min(byAge, bySize));
}

/** The latest calls' costs, for fitConeCost. */
export class ConeCostModel {
  readonly #calls: ConeCallCost[] = [];

  /** A call checked `cells` cells at `costMs`. */
  record(cells: number, costMs: number): void {
    this.#calls.push({ cells, costMs });
    if (this.#calls.length > COST_CALLS) this.#calls.shift();
  }

  fit(): ConeCostFit | null {
    return fitConeCost(this.#calls);
  }
}
