/**
 * The incumbent's benchmark times on the target lattice, kept from one
 * sandbox run to the next so that a screen times the incumbent once and
 * then only re-checks it. At 4096^2 the reference incumbent runs about 70
 * MLUPS, so each of its samples in the live call pattern (16 steps) takes
 * about 4 s and its samples were most of the benchmark's 36 s.
 *
 * The times are the supervisor's own measurements of that incumbent (the
 * same module bytes, lattice, precision, call pattern and threads), taken
 * either when it was the incumbent or when it was itself the candidate; the
 * candidate is still timed, and every one of its samples checked against
 * the oracle, in every run. A run with a known figure times the incumbent
 * on RECHECK_SAMPLES fresh samples; when they fall outside the known range
 * (by more than RECHECK_TOLERANCE) the machine's load has changed, the
 * known times are forgotten and the run's comparison rests on its fresh
 * samples alone, too few to call the candidate slower: it then goes on to
 * the live trial, which decides speed anyway.
 */
import { compareTimes } from './statistics.js';
import type { BenchSamples } from './report.js';
import type { BenchmarkSummary, Precision, Slot } from './types.js';

/** Fresh incumbent samples per lattice when its target times are known. */
export const RECHECK_SAMPLES = 1;
/** How far outside the known times' range a fresh sample may fall and still confirm them. */
export const RECHECK_TOLERANCE = 0.1;
/** The most known samples kept per key: the newest, so the figure follows a slow drift of the machine's load. */
export const MAX_KNOWN_SAMPLES = 9;
/**
 * Incumbent samples per lattice for a screen without known times: the
 * fewest for which a candidate slower in every one of 5 samples is
 * significant (Mann-Whitney p = 0.036 against 3; 0.095 against 2).
 */
export const SCREEN_INCUMBENT_SAMPLES = 3;
/**
 * A screen stops timing the incumbent, after its first sample, once every
 * candidate sample took at most this fraction of every incumbent sample:
 * the candidate cannot come out slower. The first candidates against the
 * reference run 5 to 20 times as fast.
 */
export const SCREEN_STOP_RATIO = 0.5;

/** What an incumbent's time depends on. */
export interface TimingKey {
  moduleSha256: string;
  slot: Slot;
  precision: Precision;
  extents: readonly number[];
  /** The benchmark's steps setting and steps per call: together they give the sample's call pattern. */
  benchSteps: number;
  stepsPerCall: number;
  threads: number;
}

function keyText(key: TimingKey): string {
  return [key.moduleSha256, key.slot, key.precision, key.extents.join('x'), key.benchSteps, key.stepsPerCall, key.threads].join('/');
}

/** Whether fresh incumbent samples confirm the known ones: each within the known range widened by RECHECK_TOLERANCE. */
export function recheckHolds(known: readonly number[], fresh: readonly number[]): boolean {
  if (known.length === 0 || fresh.length === 0) return false;
  const low = Math.min(...known) / (1 + RECHECK_TOLERANCE);
  const high = Math.max(...known) * (1 + RECHECK_TOLERANCE);
  return fresh.every((ns) => ns >= low && ns <= high);
}

export class IncumbentTimings {
  private readonly known = new Map<string, number[]>();

  get(key: TimingKey): number[] | null {
    return this.known.get(keyText(key)) ?? null;
  }

  record(key: TimingKey, ns: readonly number[]): void {
    if (ns.length > 0) this.known.set(keyText(key), ns.slice(-MAX_KNOWN_SAMPLES));
  }

  forget(key: TimingKey): void {
    this.known.delete(keyText(key));
  }
}

let shared: IncumbentTimings | null = null;

/** The process's store: every evaluation that reuses incumbent times shares it. */
export function sharedIncumbentTimings(): IncumbentTimings {
  shared ??= new IncumbentTimings();
  return shared;
}

/** How a run's target comparison used known incumbent times, for the bench gate's details. */
export interface IncumbentReuse {
  /** Known samples the comparison counted, and fresh ones the run took. */
  reused: number;
  fresh: number;
  /** 'held': the fresh samples confirmed the known ones; 'failed': they did not (forgotten); 'none': nothing was known. */
  recheck: 'held' | 'failed' | 'none';
}

/**
 * The target comparison with the known incumbent times counted beside the
 * fresh ones when the re-check holds, and the store updated: confirmed
 * times grow by the fresh ones, refuted ones are forgotten, a first full
 * measurement is kept.
 */
export function reuseKnownIncumbent(
  benchmark: BenchmarkSummary,
  target: BenchSamples,
  key: TimingKey,
  timings: IncumbentTimings,
): { benchmark: BenchmarkSummary; reuse: IncumbentReuse } {
  const known = timings.get(key);
  const fresh = target.incumbentNs;
  if (known === null) {
    if (fresh.length >= SCREEN_INCUMBENT_SAMPLES) timings.record(key, fresh);
    return { benchmark, reuse: { reused: 0, fresh: fresh.length, recheck: 'none' } };
  }
  if (!recheckHolds(known, fresh)) {
    timings.forget(key);
    return { benchmark, reuse: { reused: 0, fresh: fresh.length, recheck: 'failed' } };
  }
  const incumbentNs = [...known, ...fresh];
  timings.record(key, incumbentNs);
  const lattices = benchmark.lattices.map((l) =>
    l.lattice === target.lattice ? compareTimes(l.lattice, l.extents, l.steps, target.candidateNs, incumbentNs) : l,
  );
  const wins = lattices.length === 2 && lattices.every((l) => l.verdict === 'faster');
  return { benchmark: { ...benchmark, lattices, wins }, reuse: { reused: known.length, fresh: fresh.length, recheck: 'held' } };
}
