/**
 * The canary: a candidate module and the incumbent of its slot run on copies
 * of the live state (taken at a step boundary) off the JS thread and are
 * compared; the live state is untouched.
 */
import type { CoreLattice, CoreStateViews } from '../../native/addon-types.js';
import { requireInteger } from '../errors.js';
import { MAX_STEPS } from './options.js';
import type { Slot } from './slots.js';

const DEFAULT_CANARY_STEPS = 100;

export interface CanaryOptions {
  /** Steps to run both modules on the copies (default 100). */
  steps?: number;
  /**
   * Ends the canary before its next kernel call, and with it every other
   * canary in flight on this lattice; the promise then rejects with the
   * signal's reason.
   */
  signal?: AbortSignal;
}

export interface CanaryReport {
  slot: Slot;
  /** stepCount of the live state the copies were taken from. */
  startStep: number;
  steps: number;
  incumbent: string;
  candidate: string;
  /** Largest |incumbent - candidate| over both levels (step) or the digits (readout). */
  maxAbsDifference: number;
  /** Oracle energies of the two copies after `steps` steps. */
  incumbentEnergy: number;
  candidateEnergy: number;
  /** Candidate calls that left the FP environment changed (the core restored it each time); a correct kernel has 0. */
  candidateFpRestores: number;
}

/**
 * Runs the canary of `moduleId` in `slot` (both already checked) on `core`;
 * `energyOf` sums a copy's energy with the oracle.
 */
export async function runCanary(
  core: CoreLattice,
  slot: Slot,
  moduleId: number,
  options: CanaryOptions,
  energyOf: (levels: CoreStateViews) => number,
): Promise<CanaryReport> {
  const steps = requireInteger('steps', options.steps ?? DEFAULT_CANARY_STEPS, 0, MAX_STEPS);
  const { signal } = options;
  signal?.throwIfAborted();
  const cancel = () => core.cancelCanaries();
  signal?.addEventListener('abort', cancel, { once: true });
  let result;
  try {
    result = await core.canary(slot, moduleId, steps);
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
  if (result.cancelled) throw signal?.reason ?? new Error(`the canary was cancelled after ${result.stepsDone} of ${steps} steps`);
  return {
    slot,
    startStep: result.startStep,
    steps,
    incumbent: result.incumbent.name,
    candidate: result.candidate.name,
    maxAbsDifference: result.maxAbsDifference,
    incumbentEnergy: energyOf(result.incumbentLevels),
    candidateEnergy: energyOf(result.candidateLevels),
    candidateFpRestores: result.candidateFpRestores,
  };
}
