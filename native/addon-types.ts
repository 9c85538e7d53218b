/**
 * Everything the two native addons export, described once by hand.
 *
 * The C++ core addon (`ouroboros_core.<target>.node`, cmake-js + node-addon-api)
 * owns the lattice state and runs kernels loaded from `.so` modules.
 * The Rust oracle addon (`ouroboros_oracle.<target>.node`, napi-rs) is the
 * independent reference that checks it.
 *
 * Both addons assume well-formed input: the TypeScript layer validates every
 * argument before it crosses the boundary.
 */

export type Precision = 'f64' | 'f32';
export type FieldArray = Float64Array | Float32Array;

// ---------------------------------------------------------------- C++ core

export interface CoreLatticeConfig {
  /** 1..9 extents, each an integer >= 3, last axis fastest. */
  extents: number[];
  /** r^2 = (c dt / h)^2, already checked against 1 / dims. */
  courant2: number;
  precision: Precision;
  /** Absolute path of the kernel module `.so` loaded at start. */
  kernelPath: string;
  /** Worker threads of the host pool lent to kernels (>= 1). */
  threads: number;
}

/** Zero-copy views over the live state; stale after the next step. */
export interface CoreStateViews {
  previous: FieldArray;
  current: FieldArray;
}

export type CoreReadout =
  | { digits: Int8Array; badIndex: null }
  | { digits: null; badIndex: number };

export interface CoreLattice {
  /** Copies both time levels in and resets the step counter to 0. */
  setState(previous: FieldArray, current: FieldArray): void;
  /** Advances n steps with the live kernel; returns the kernel's time in ns. */
  step(n: number): number;
  readonly stepCount: number;
  readonly kernelName: string;
  field(): FieldArray;
  previousField(): FieldArray;
  views(): CoreStateViews;
  readout(): CoreReadout;
  /**
   * Runs the live kernel n steps on a private copy of the given levels and
   * returns the result; the live state is untouched.
   */
  stepCopy(previous: FieldArray, current: FieldArray, n: number): CoreStateViews;
  /** Frees the state; any further call throws. */
  close(): void;
}

export interface StreamTriadResult {
  /** Best sustained triad bandwidth, counting 24 bytes per element (f64). */
  gbPerSecond: number;
  bytesPerArray: number;
  threads: number;
}

export interface CoreAddon {
  LatticeCore: new (config: CoreLatticeConfig) => CoreLattice;
  /** STREAM triad a[i] = b[i] + s * c[i] over three f64 arrays. */
  streamTriad(bytesPerArray: number, repetitions: number, threads: number): StreamTriadResult;
  readonly kernelAbiVersion: number;
}

// ------------------------------------------------------------- Rust oracle

export interface OracleReadout {
  digits: Int8Array | null;
  badIndex: number | null;
}

export interface InvariantInput {
  extents: number[];
  c: number;
  h: number;
  dt: number;
  /** Live levels, widened to f64 exactly when the lattice is f32. */
  previous: Float64Array;
  current: Float64Array;
  initialEnergy: number;
  driftTolerance: number;
  /** The kernel's readout of `current`, checked for range and against the oracle's. */
  readout: Int8Array | null;
  /**
   * Wrap probe: `stepped` is the kernel's current level after one step from
   * (previous, current); `shiftedStepped[axis]` is the kernel's current level
   * after one step from the state shifted by +1 cell along `axis`.
   */
  stepped: Float64Array | null;
  shiftedStepped: Float64Array[] | null;
}

export interface InvariantReport {
  ok: boolean;
  energy: number;
  initialEnergy: number;
  /** |E - E0| / E0 (or |E - E0| when E0 is 0). */
  energyDrift: number;
  driftTolerance: number;
  allFinite: boolean;
  firstNonFinite: number | null;
  readoutInRange: boolean | null;
  readoutMatchesOracle: boolean | null;
  wrapExact: boolean | null;
  wrapFailedAxes: number[];
  violations: string[];
}

export interface StepResultF64 {
  previous: Float64Array;
  current: Float64Array;
}

export interface StepResultF32 {
  previous: Float32Array;
  current: Float32Array;
}

export interface OracleAddon {
  /** Discrete energy leapfrog conserves, in f64, including the cell volume h^N. */
  energy(previous: Float64Array, current: Float64Array, extents: number[], c: number, h: number, dt: number): number;
  stepF64(previous: Float64Array, current: Float64Array, extents: number[], courant2: number, steps: number): StepResultF64;
  stepF32(previous: Float32Array, current: Float32Array, extents: number[], courant2: number, steps: number): StepResultF32;
  readout(field: Float64Array): OracleReadout;
  /** Returns the field shifted by `by` cells along `axis` (periodic). */
  shift(field: Float64Array, extents: number[], axis: number, by: number): Float64Array;
  checkInvariants(input: InvariantInput): InvariantReport;
  nonaryAdd(a: Int8Array, b: Int8Array): Int8Array;
  nonaryNeg(a: Int8Array): Int8Array;
  nonarySub(a: Int8Array, b: Int8Array): Int8Array;
  nonaryMul(a: Int8Array, b: Int8Array): Int8Array;
  nonaryCompare(a: Int8Array, b: Int8Array): number;
}
