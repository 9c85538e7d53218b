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
import { seededRandom } from '../util/random.js';

/**
 * Allowed |kernel - oracle| per step at a cell, in machine epsilons of that
 * cell's own scale: the largest magnitude in its light cone of either level
 * times what an update's terms can weigh against it (`cellsConeScalesF64`,
 * or a cone probe's `scales`), or its expected magnitude when that is
 * larger. The gauntlet's rule (`crates/sandbox/src/compare.rs`): a correct
 * kernel that sums in another order errs by ulps of the terms however much
 * they cancel, and a skipped or wrong step errs by far more. Never the
 * field's largest value, which would let a quiet region be wrong by ulps of
 * the peak.
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

/** A cone probe the watchdog arms in the core (CoreLattice.armConeProbe). */
export interface ConeProbePlan {
  /** The first step at which the runner takes it. */
  atStep: number;
  /** Seed of the core's draws of the cells it gathers at each boundary from now on (an integer below 2^32). */
  cellSeed: number;
  /** A one-step batch before the live one, as a snapshot's probe may have. */
  delayed: boolean;
  /** A batch of the interval's remainder size before the live one. */
  remainder: boolean;
}

/**
 * The generator of a run's cone probes, seeded from the differential's seed
 * but apart from the snapshot probes' draws, so that how many cells a
 * snapshot's draw took never moves which batch a cone probe takes.
 */
export function coneProbeRandom(seed: number): () => number {
  return seededRandom((seed ^ 0x2545f491) >>> 0);
}

/**
 * The next cone probe after step `fromStep`: `everySteps` steps later on
 * average, uniformly 1 to 2 everySteps - 1, so that a kernel which counts its
 * steps cannot tell which of its batches will be probed; a fresh seed for
 * the core's cell draws (the core gathers cells drawn afresh at every batch
 * boundary, probed or not, and hands over only the gather of the boundary
 * this plan picks), and the two coins of a snapshot probe (a one-step call
 * first, a remainder-sized batch first), each fair: the plain shape, the
 * one every unprobed batch has, is as common as any other.
 */
export function drawConeProbe(random: () => number, fromStep: number, everySteps: number): ConeProbePlan {
  const atStep = fromStep + 1 + Math.min(2 * everySteps - 2, Math.floor(random() * (2 * everySteps - 1)));
  const cellSeed = Math.floor(random() * 2 ** 32);
  const delayed = random() < 0.5;
  return { atStep, cellSeed, delayed, remainder: random() < 0.5 };
}

/** The probe that follows a cone probe, at cells drawn afresh (CoreLattice.armConeProbe's follow-on). */
export interface FollowingProbePlan {
  /** Steps after the first probe's batches end: 0 probes the very next batch. */
  offsetSteps: number;
  delayed: boolean;
  remainder: boolean;
}

/**
 * The follow-on of a cone probe: 0 to 2 everySteps - 2 steps after the
 * first one's batches end, uniformly, with fair coins. The watchdog can arm
 * the next probe only once it has taken one, batches after it ended, so the
 * core holds this one beforehand: the batch right after a probe (after the
 * runner's gather pause, which a kernel can time) is then as likely to be
 * probed as any other.
 */
export function drawFollowingProbe(random: () => number, everySteps: number): FollowingProbePlan {
  const offsetSteps = Math.min(2 * everySteps - 2, Math.floor(random() * (2 * everySteps - 1)));
  const delayed = random() < 0.5;
  return { offsetSteps, delayed, remainder: random() < 0.5 };
}

/** Values in the light cone of `radius` steps around one cell in `dims` dimensions. */
export function coneValues(dims: number, radius: number): number {
  return (2 * radius + 1) ** dims;
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
 * infinity the same infinity, each finite value must agree to
 * ULPS_PER_STEP epsilons per step of its cell's `scales` entry (the
 * oracle's, for these cells and steps) or of its expected magnitude,
 * whichever is larger. Null when every cell agrees.
 */
export function compareProbe(
  probeCells: Float64Array,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  scales: ArrayLike<number>,
  precision: Precision,
  steps = 1,
): ProbeMismatch | null {
  const perScale = ULPS_PER_STEP * steps * EPSILON[precision];
  let mismatch: ProbeMismatch | null = null;
  for (let i = 0; i < probeCells.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const scale = Number.isFinite(scales[i]!) ? scales[i]! : Number.MAX_VALUE;
    const tolerance = perScale * Math.max(scale, Number.isFinite(e) ? Math.abs(e) : 0);
    const agrees = Number.isNaN(e) ? Number.isNaN(a) : !Number.isFinite(e) ? a === e : Number.isFinite(a) && Math.abs(a - e) <= tolerance;
    if (agrees) continue;
    if (mismatch === null) mismatch = { cells: 0, firstCell: probeCells[i]!, actual: a, expected: e, tolerance };
    mismatch.cells += 1;
  }
  return mismatch;
}

/** What a differential check (`check`: its name) found: the kernel's `steps` step(s) from `step` against the oracle's at `probed` cells. */
export function mismatchDetail(mismatch: ProbeMismatch, step: number, steps: number, probed: number, check: string): string {
  return (
    `${check}: the kernel's ${steps} step(s) from ${step} to ${step + steps} differ from the oracle's ` +
    `at ${mismatch.cells} of ${probed} ` +
    `sampled cells, first cell ${mismatch.firstCell}: ${mismatch.actual} where the oracle has ${mismatch.expected} ` +
    `(tolerance ${mismatch.tolerance.toExponential(3)})`
  );
}
