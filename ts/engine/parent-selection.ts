/**
 * Parent selection, the Darwin Gödel Machine rule. For each eligible kernel
 * i of the slot:
 *
 *   s_i = speedup_i / max_j speedup_j          (in (0, 1]; the best scores 1)
 *   w_i = sigmoid(LAMBDA * (s_i - 0.5)) / (1 + children_i)
 *   p_i = w_i / sum_j w_j
 *
 * speedup is over the reference kernel (the reference scores 1), so s says
 * how close a kernel is to the best found so far. The sigmoid keeps every
 * kernel a chance while favouring the good ones; 1 / (1 + children) favours
 * those that have been explored least, so the search does not collapse onto
 * one lineage. Eligible: every kernel the gauntlet accepted that never
 * regressed live, and always the live incumbent and the reference root.
 */
import type { AttemptRecord } from '../archive/types.js';

export const LAMBDA = 10;
const CENTRE = 0.5;

export interface ParentCandidate {
  attemptId: number;
  /** Speedup over the reference kernel (the reference itself: 1); must be > 0. */
  speedup: number;
  /** Children already bred from it. */
  children: number;
}

export interface ParentProbability extends ParentCandidate {
  score: number;
  weight: number;
  probability: number;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** The probability of each candidate under the rule above, in the order given. */
export function selectionProbabilities(candidates: readonly ParentCandidate[]): ParentProbability[] {
  if (candidates.length === 0) throw new RangeError('candidates = []: parent selection needs at least one kernel (the reference root is always eligible)');
  for (const candidate of candidates) {
    if (!(candidate.speedup > 0) || !Number.isFinite(candidate.speedup)) {
      throw new RangeError(`candidates[attemptId ${candidate.attemptId}].speedup = ${candidate.speedup}: must be a finite number > 0`);
    }
    if (!Number.isInteger(candidate.children) || candidate.children < 0) {
      throw new RangeError(`candidates[attemptId ${candidate.attemptId}].children = ${candidate.children}: must be an integer >= 0`);
    }
  }
  const best = Math.max(...candidates.map((candidate) => candidate.speedup));
  const weighted = candidates.map((candidate) => {
    const score = candidate.speedup / best;
    const weight = sigmoid(LAMBDA * (score - CENTRE)) / (1 + candidate.children);
    return { ...candidate, score, weight };
  });
  const total = weighted.reduce((sum, candidate) => sum + candidate.weight, 0);
  return weighted.map((candidate) => ({ ...candidate, probability: candidate.weight / total }));
}

/** Draws one candidate with the rule's probabilities; `random` returns uniform numbers in [0, 1). */
export function selectParent(candidates: readonly ParentCandidate[], random: () => number): ParentProbability {
  const probabilities = selectionProbabilities(candidates);
  const draw = random();
  let cumulative = 0;
  for (const candidate of probabilities) {
    cumulative += candidate.probability;
    if (draw < cumulative) return candidate;
  }
  // Rounding can leave the cumulative sum a hair below 1.
  return probabilities[probabilities.length - 1]!;
}

const ELIGIBLE_STATUSES = new Set(['passed', 'applied', 'superseded']);

/**
 * The eligible kernels of one slot among archived attempts: accepted by the
 * gauntlet (passed, applied or superseded) with a known speedup, plus the
 * incumbent and the root whatever their record says.
 */
export function eligibleParents(
  records: readonly AttemptRecord[],
  childCounts: ReadonlyMap<number, number>,
  always: { rootId: number; incumbentId: number },
): ParentCandidate[] {
  return records
    .filter(
      (record) =>
        record.id === always.rootId ||
        record.id === always.incumbentId ||
        (ELIGIBLE_STATUSES.has(record.status) && record.speedup !== null && record.speedup > 0),
    )
    .map((record) => ({
      attemptId: record.id,
      speedup: record.id === always.rootId ? 1 : record.speedup !== null && record.speedup > 0 ? record.speedup : 1,
      children: childCounts.get(record.id) ?? 0,
    }));
}
