/**
 * The search's convergence, carried from one run to the next. A run whose
 * economy (economy.ts) ends backed off has learned, at the price of its
 * attempts, that on this machine and lattice (extents, precision, threads:
 * the attempt-cost key) attempts no longer pay for what they cost the live
 * job; the archive keeps that decision with the bottleneck slot, the module
 * live in it, the generator, and the figures it was made on. A warm run
 * starts from the state that run reached: when its remembered module goes
 * live and the record still describes it (convergenceMismatch), its
 * economy starts backed off on those figures instead of breeding an attempt
 * that only learns the same again (bench net's warm run: one attempt,
 * ~10 lattice-seconds, 5.7% of the run, nothing won).
 *
 * It starts attempts again when something changes (ConvergenceWatch, and
 * the economy's own changes: an applied or rolled-back kernel, an ended
 * attempt whose result pays): the live module of the slot, the bottleneck
 * slot, or a live rate well below the record's (the machine changed under
 * the same fingerprint: another load, another host). Another lattice,
 * precision or thread count is another key, and another generator or live
 * module does not match, so those runs search as without a record.
 */
import type { AttemptCostKey, ConvergenceRecord, NewConvergence } from '../archive/types.js';
import type { Slot } from '../gauntlet/types.js';
import { median } from '../util/median.js';
import type { ConvergedFigures } from './economy.js';
import type { EngineSample } from './events.js';

/** A live rate this fraction below the record's means the machine changed: the search resumes. */
export const LIVE_RATE_DROP = 0.2;
/** Free-running samples, taken since the run started from the record, whose median is compared with it; fewer decide nothing. */
export const LIVE_RATE_SAMPLES = 5;
export const LIVE_RATE_MIN_SAMPLES = 3;

/** What this run is, for the record to be judged against. */
export interface ConvergenceNow {
  /** sha256 of the module live in the record's slot now. */
  moduleSha256: string | undefined;
  /** The generator's name. */
  generator: string;
}

/** Why `record` does not describe this run (a sentence), or null when it does. */
export function convergenceMismatch(record: ConvergenceRecord, now: ConvergenceNow): string | null {
  if (now.moduleSha256 !== record.moduleSha256) return `the live ${record.slot} module is not the one the search converged on`;
  if (now.generator !== record.generator) return `the generator is ${now.generator}, not ${record.generator}, which the search converged with`;
  return null;
}

/** The record's figures, as the economy starts from them. */
export function figuresOf(record: ConvergenceRecord): ConvergedFigures {
  const { expectedGainSeconds, attemptCostSeconds, ceiling, inCacheMlups, liveMlups } = record;
  return { expectedGainSeconds, attemptCostSeconds, ceiling, inCacheMlups, liveMlups };
}

/** What the archive keeps of a run that ended backed off on `figures`; null without a live rate to judge a later one by. */
export function convergenceToKeep(
  key: AttemptCostKey,
  at: { slot: Slot; moduleSha256: string; generator: string },
  figures: ConvergedFigures,
): NewConvergence | null {
  if (figures.liveMlups === null || !(figures.liveMlups > 0)) return null;
  return { ...key, ...at, ...figures, liveMlups: figures.liveMlups };
}

/** What a run started backed off from a record watches for: the first change ends it. */
export class ConvergenceWatch {
  /**
   * @param record the convergence the run started from.
   * @param sinceMs the time of the last sample taken before it started from it (EngineSample.atMs): only samples after it are the live kernel the record is compared with.
   */
  constructor(
    readonly record: ConvergenceRecord,
    private sinceMs: number,
  ) {}

  /**
   * What changed since the run started from the record (a sentence), or
   * null when nothing did. While the engine's own work runs beside the
   * lattice (`busy`: the warm start's re-verification, an attempt, a live
   * change) the live rate says nothing of the machine: the samples up to
   * then are left out, and the rate is judged on those after.
   */
  changed(now: { moduleSha256: string | undefined; bottleneckSlot: Slot | null; samples: readonly EngineSample[]; busy: boolean }): string | null {
    const { record } = this;
    if (now.moduleSha256 !== record.moduleSha256) return `the live ${record.slot} module is not the one the search converged on`;
    if (now.bottleneckSlot !== null && now.bottleneckSlot !== record.slot) {
      return `the bottleneck is the ${now.bottleneckSlot} slot, not the ${record.slot} slot the search converged on`;
    }
    if (now.busy) {
      this.sinceMs = Math.max(this.sinceMs, now.samples.at(-1)?.atMs ?? this.sinceMs);
      return null;
    }
    const free = now.samples.filter((sample) => sample.atMs > this.sinceMs && sample.heldMs === 0 && sample.mlups > 0).slice(-LIVE_RATE_SAMPLES);
    if (free.length < LIVE_RATE_MIN_SAMPLES) return null;
    const live = median(free.map((sample) => sample.mlups));
    if (live >= (1 - LIVE_RATE_DROP) * record.liveMlups) return null;
    return `the live kernel runs at ${live.toFixed(1)} MLUPS, more than ${LIVE_RATE_DROP * 100}% below the ${record.liveMlups.toFixed(1)} MLUPS the search converged at (the machine changed)`;
  }
}
