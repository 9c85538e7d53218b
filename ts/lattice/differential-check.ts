/**
 * The watchdog's differential check, the part that knows nothing of the
 * core: which cells to probe, and how a kernel's values there compare with
 * the oracle's.
 *
 * The staggered energy is symmetric in the two time levels, so a kernel
 * that does no work (the levels swap), freezes the field from rest or skips
 * every other step keeps it exact. The differential check catches those: the
 * oracle steps the snapshot's own levels at a few cells (`stepAtCells`,
 * exact for k steps, since a cell's value k steps on depends only on its
 * light cone, the (2k+1)^dims cells around it) and the kernel's newest level
 * after the live batch of k steps that followed the snapshot must agree
 * there: the check covers the very call the kernel was given live.
 */
import type { Precision } from '../../native/addon-types.js';

/**
 * Allowed |kernel - oracle| per step, in machine epsilons of the sample's
 * largest finite magnitude: the gauntlet's differential rule
 * (`crates/sandbox/src/differential.rs`), which a correct kernel that sums
 * in another order meets and a skipped or wrong step does not.
 */
export const ULPS_PER_STEP = 4;
export const EPSILON: Record<Precision, number> = { f64: Number.EPSILON, f32: 2 ** -23 };

/**
 * `count` distinct cells of a lattice of `cells` cells, uniformly at random
 * from `random`, in increasing order (so that the oracle and the core walk
 * memory forwards); every cell when count >= cells.
 */
export function drawProbeCells(cells: number, count: number, random: () => number): Float64Array {
  if (count >= cells) return Float64Array.from({ length: cells }, (_, cell) => cell);
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(Math.floor(random() * cells));
  return Float64Array.from([...chosen].sort((a, b) => a - b));
}

export interface ProbeMismatch {
  /** How many of the probed cells disagree. */
  cells: number;
  firstCell: number;
  actual: number;
  expected: number;
  tolerance: number;
}

/**
 * Compares a kernel's values at the probed cells with the oracle's after
 * `steps` steps, NaN-aware as the gauntlet is: a NaN must meet a NaN, an
 * infinity the same infinity, finite values must agree to ULPS_PER_STEP
 * epsilons per step of the largest finite magnitude among the expected
 * values and `inputs` (the stepped level at the same cells). Null when every
 * cell agrees.
 */
export function compareProbe(
  probeCells: Float64Array,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  inputs: ArrayLike<number>,
  precision: Precision,
  steps = 1,
): ProbeMismatch | null {
  let scale = 0;
  for (let i = 0; i < probeCells.length; i++) {
    for (const value of [expected[i]!, inputs[i]!]) {
      if (Number.isFinite(value)) scale = Math.max(scale, Math.abs(value));
    }
  }
  const tolerance = ULPS_PER_STEP * steps * EPSILON[precision] * scale;
  let mismatch: ProbeMismatch | null = null;
  for (let i = 0; i < probeCells.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const agrees = Number.isNaN(e) ? Number.isNaN(a) : !Number.isFinite(e) ? a === e : Number.isFinite(a) && Math.abs(a - e) <= tolerance;
    if (agrees) continue;
    if (mismatch === null) mismatch = { cells: 0, firstCell: probeCells[i]!, actual: a, expected: e, tolerance };
    mismatch.cells += 1;
  }
  return mismatch;
}
