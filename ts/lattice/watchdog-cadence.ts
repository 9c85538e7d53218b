/**
 * When the watchdog takes its next snapshot, so that its checks cost the run
 * at most a given share of its time. A check's price hardly depends on the
 * kernel's speed (at 4096^2 f64: copying both levels in the runner, copying
 * them again and summing their energy on the JS thread, about 0.2 s under
 * load) while the time between two snapshots K steps apart does: a kernel at
 * 30 ms a step paid 13% of its throughput for checks every 50 steps
 * (bench/results/watchdog.json). So after each check the next snapshot is
 * deferred by a whole number of K-step intervals, drawn uniformly with a mean
 * that makes the check's measured cost `maxCostShare` of the time it stands
 * for; a check cheaper than that share of one interval defers nothing.
 * The cost it goes by is the lower median of the last COST_WINDOW checks'
 * costs: one check slowed by something else (the JS thread busy with a
 * canary's energy sums, a sandbox at the live size taking the memory
 * bandwidth) would otherwise defer the next by a hundred intervals and
 * more, minutes of a fast kernel running unchecked.
 *
 * The draw comes from a seeded generator the kernel cannot read: a kernel
 * that counts its steps (or keeps time) knows the multiples of K, never which
 * of the next L of them the watchdog will take, so it cannot save its
 * misbehaviour for the intervals in between. Pure: the clock's readings and
 * the costs are passed in.
 */

/** The share of the run's time the engine lets its watchdog's checks take (`[watchdog] maxCostShare`). */
export const DEFAULT_MAX_COST_SHARE = 0.01;

/**
 * Intervals of K steps the next snapshot waits, on average, so that a check
 * costing `costMs` is `maxCostShare` of the time it stands for: never below 1.
 */
export function meanIntervals(costMs: number, intervalMs: number, maxCostShare: number): number {
  if (!(costMs > 0) || !(intervalMs > 0)) return 1;
  return Math.max(1, costMs / (maxCostShare * intervalMs));
}

/** How many of the latest checks' costs the deferral's cost is the lower median of. */
export const COST_WINDOW = 5;

/** The lower median: the middle value, or the lesser of the middle two. */
function lowerMedian(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

export class SnapshotCadence {
  /** The last check's snapshot step and when it began, on the caller's clock. */
  #last: { step: number; atMs: number } | null = null;
  /** The costs of the latest checks, at most COST_WINDOW, oldest first. */
  readonly #costs: number[] = [];

  constructor(
    private readonly everySteps: number,
    readonly maxCostShare: number,
    private readonly random: () => number,
  ) {}

  /**
   * After the check of the snapshot at `step`, begun at `atMs` and costing
   * the run `costMs` (the runner's copy of the levels and the JS thread's
   * work): the first step at which the next snapshot may be taken. The rate
   * comes from the last two checks; until there are two (and after a
   * rollback, which moves the step back), nothing is deferred. The cost is
   * the lower median of the latest COST_WINDOW checks' costs, this one's
   * among them.
   */
  next(step: number, atMs: number, costMs: number): number {
    const last = this.#last;
    this.#last = { step, atMs };
    this.#costs.push(costMs);
    if (this.#costs.length > COST_WINDOW) this.#costs.shift();
    if (last === null || step <= last.step) return step + 1;
    const msPerStep = (atMs - last.atMs) / (step - last.step);
    const medianCostMs = lowerMedian(this.#costs);
    const mean = meanIntervals(medianCostMs, msPerStep * this.everySteps, this.maxCostShare);
    // Uniform over 1..choices, whose mean is `mean`.
    const choices = Math.max(1, Math.round(2 * mean - 1));
    const intervals = 1 + Math.min(choices - 1, Math.floor(this.random() * choices));
    return step + (intervals - 1) * this.everySteps + 1;
  }
}
