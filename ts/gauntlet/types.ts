/**
 * The gauntlet's verdicts. Every gate returns a `GateVerdict`; the pipeline
 * collects them in order and stops at the first one that fails.
 */

/** The gates, in the order a candidate meets them. */
export const GATES = ['patch', 'static', 'compile', 'symbols', 'sandbox', 'dojo', 'bench'] as const;
export type GateName = (typeof GATES)[number];

/** Which kernel function the candidate replaces. */
export type Slot = 'step' | 'readout';

/** The precision of the live lattice, which the sandbox's benchmark and checks run in. */
export type Precision = 'f64' | 'f32';

/**
 * Why a gate could not judge a candidate for reasons of the machine, not of
 * the source: a full scratch disk, or a tool the load kept from finishing
 * within its wall time although it stayed under its CPU limit. Such a
 * failure says nothing about the candidate and is never recorded as its
 * rejection; nothing is accepted on it either.
 */
export interface InfrastructureFailure {
  kind: 'disk-full' | 'busy';
  message: string;
}

export interface GateVerdict<Details extends object = object> {
  gate: GateName;
  passed: boolean;
  /** Why it failed, one sentence; empty when it passed. */
  reason: string;
  details: Details;
  seconds: number;
  /** Set when the gate failed for the machine's reasons (then `passed` is false and `reason` says so). */
  infrastructure?: InfrastructureFailure;
}

/** One isolation layer of the sandbox as it ended up on this machine. */
export interface IsolationLayer {
  name: string;
  active: boolean;
  detail: string;
}

/** Candidate against incumbent on one lattice: times are per sample. */
export interface BenchmarkStatistics {
  lattice: string;
  extents: number[];
  steps: number;
  samples: number;
  candidateMedianNs: number;
  incumbentMedianNs: number;
  /** candidate / incumbent median time: below 1 the candidate is faster. */
  ratio: number;
  /** 95% bootstrap interval of the ratio. */
  ratioLow: number;
  ratioHigh: number;
  /** Two-sided Mann-Whitney U p-value of "same distribution". */
  pValue: number;
  /** Significant (p < 0.05) and the whole interval at least 3% away from 1. */
  verdict: 'faster' | 'slower' | 'indistinguishable';
}

/** What the supervisor/worker split and the per-sample checks cost on one lattice. */
export interface BenchmarkOverhead {
  lattice: string;
  /** The median round trip of an empty command to the candidate's worker, in microseconds. */
  roundTripUs: number;
  /** The oracle probe that ends each candidate sample, in microseconds, outside the timing. */
  checkUsPerSample: number;
  /** Copying the buffers into and out of the candidate's stopped worker, per command, in microseconds, outside the timing. */
  copyUsPerCommand: number;
  /** The candidate's median sample time, in microseconds, for scale. */
  sampleUs: number;
}

export interface BenchmarkSummary {
  /** Faster on the target lattice and on the held-out one. */
  wins: boolean;
  lattices: BenchmarkStatistics[];
  overhead: BenchmarkOverhead[];
}

export interface GauntletVerdict {
  /**
   * The caller's signal aborted the run: the gate in progress was killed
   * and left out of `gates`, nothing was judged, `accepted` is false and
   * `failedGate` null.
   */
  interrupted: boolean;
  /** Every gate passed (the benchmark gate passes whether or not it wins). */
  accepted: boolean;
  /** Accepted and faster than the incumbent. */
  improves: boolean;
  failedGate: GateName | null;
  gates: GateVerdict[];
  safetyScore: number | null;
  compileCached: boolean | null;
  isolation: IsolationLayer[];
  benchmark: BenchmarkSummary | null;
  seconds: number;
}
