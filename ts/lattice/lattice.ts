/**
 * The public handle on one simulated torus. The state lives in the C++ core;
 * this class validates every argument, forwards to the core, and asks the Rust
 * oracle for the energy and the invariant report over the core's live memory.
 */
import os from 'node:os';
import type { CoreLattice, FieldArray, InvariantReport, Precision } from '../../native/addon-types.js';
import { coreAddon, kernelModulePath, oracleAddon } from '../../native/loader.js';
import { NonFiniteFieldError, invalidTypeError, requireInteger, requirePositiveNumber } from '../errors.js';
import { type LatticeConfig, type LatticeOptions, checkField, resolveLatticeOptions } from './options.js';

export interface InvariantOptions {
  /** Largest allowed |E - E0| / E0; default 1e-12 for f64 and 1e-5 for f32. */
  driftTolerance?: number;
  /** Also step copies of the state shifted along every axis to check the kernel's wrap (default true). */
  wrapProbe?: boolean;
}

const DEFAULT_DRIFT_TOLERANCE: Record<Precision, number> = { f64: 1e-12, f32: 1e-5 };

/** Exact widening: every f32 value is representable in f64. */
function toFloat64(field: FieldArray): Float64Array {
  return field instanceof Float64Array ? field : Float64Array.from(field);
}

export class Lattice {
  readonly extents: readonly number[];
  readonly c: number;
  readonly h: number;
  readonly dt: number;
  readonly precision: Precision;
  /** Number of cells, the product of the extents. */
  readonly cells: number;
  /** r = c dt / h, strictly below 1 / sqrt(dimensions). */
  readonly courantNumber: number;
  readonly #config: LatticeConfig;
  readonly #core: CoreLattice;
  #initialEnergy = 0;
  #lastStepNs = 0;

  constructor(options: LatticeOptions) {
    const config = resolveLatticeOptions(options, os.availableParallelism());
    this.#config = config;
    this.extents = Object.freeze([...config.extents]);
    this.c = config.c;
    this.h = config.h;
    this.dt = config.dt;
    this.precision = config.precision;
    this.cells = config.cells;
    this.courantNumber = config.courantNumber;
    this.#core = new (coreAddon().LatticeCore)({
      extents: config.extents,
      courant2: config.courantNumber * config.courantNumber,
      precision: config.precision,
      kernelPath: config.kernel ?? kernelModulePath('reference'),
      threads: config.threads,
    });
  }

  /** Sets u^{n-1} and u^n (copied in) and resets the step counter. */
  setState(previous: FieldArray, current: FieldArray): void {
    checkField('previous', previous, this.#config);
    checkField('current', current, this.#config);
    this.#core.setState(previous, current);
    this.#initialEnergy = this.energy();
  }

  /** Advances n leapfrog steps in native code. */
  step(n = 1): void {
    requireInteger('n', n, 0);
    this.#lastStepNs = this.#core.step(n);
  }

  /** Steps taken since the last setState. */
  get stepCount(): number {
    return this.#core.stepCount;
  }

  /** Name the live kernel module gives itself. */
  get kernelName(): string {
    return this.#core.kernelName;
  }

  /** Nanoseconds the kernel spent in the last step() call, timed in native code. */
  get lastStepNs(): number {
    return this.#lastStepNs;
  }

  /** Energy when setState was last called (0 for the initial all-zero state). */
  get initialEnergy(): number {
    return this.#initialEnergy;
  }

  /** Copy of the current time level u^n. */
  field(): FieldArray {
    return this.#core.field();
  }

  /** Copy of the previous time level u^{n-1}. */
  previousField(): FieldArray {
    return this.#core.previousField();
  }

  /** The discrete energy leapfrog conserves, computed by the Rust oracle over the live state. */
  energy(): number {
    const { previous, current } = this.#core.views();
    const { extents, c, h, dt } = this.#config;
    return oracleAddon().energy(toFloat64(previous), toFloat64(current), extents, c, h, dt);
  }

  /** Balanced-nonary digits of the current level, computed by the live kernel. */
  readout(): Int8Array {
    const result = this.#core.readout();
    if (result.digits) return result.digits;
    throw this.#nonFiniteError('readout', result.badIndex);
  }

  /** The oracle's report on the live state: energy drift, finiteness, readout and wrap. */
  checkInvariants(options: InvariantOptions = {}): InvariantReport {
    if (options === null || typeof options !== 'object') {
      throw invalidTypeError('options', 'an object such as { driftTolerance: 1e-12 }', options);
    }
    const driftTolerance = requirePositiveNumber(
      'driftTolerance',
      options.driftTolerance ?? DEFAULT_DRIFT_TOLERANCE[this.precision],
    );
    const { previous, current } = this.#core.views();
    const previous64 = Float64Array.from(previous);
    const current64 = Float64Array.from(current);
    const readout = this.#core.readout().digits;
    const wrap = options.wrapProbe === false ? null : this.#wrapProbe(previous64, current64);
    const { extents, c, h, dt } = this.#config;
    return oracleAddon().checkInvariants({
      extents,
      c,
      h,
      dt,
      previous: previous64,
      current: current64,
      initialEnergy: this.#initialEnergy,
      driftTolerance,
      readout,
      stepped: wrap?.stepped ?? null,
      shiftedStepped: wrap?.shiftedStepped ?? null,
    });
  }

  /** Frees the native state; the lattice cannot be used afterwards. */
  close(): void {
    this.#core.close();
  }

  /**
   * One kernel step from the live state and from the state shifted by one cell
   * along each axis, all on copies: the oracle checks the results line up.
   */
  #wrapProbe(previous: Float64Array, current: Float64Array) {
    const oracle = oracleAddon();
    const narrow = (field: Float64Array): FieldArray =>
      this.precision === 'f64' ? field : Float32Array.from(field);
    const stepOnce = (p: Float64Array, u: Float64Array) =>
      toFloat64(this.#core.stepCopy(narrow(p), narrow(u), 1).current);
    const stepped = stepOnce(previous, current);
    const shiftedStepped = this.extents.map((_, axis) =>
      stepOnce(
        oracle.shift(previous, this.#config.extents, axis, 1),
        oracle.shift(current, this.#config.extents, axis, 1),
      ),
    );
    return { stepped, shiftedStepped };
  }

  #nonFiniteError(operation: string, index: number): NonFiniteFieldError {
    const coordinates: number[] = [];
    let rest = index;
    for (let axis = this.extents.length - 1; axis >= 0; axis--) {
      const extent = this.extents[axis]!;
      coordinates.unshift(rest % extent);
      rest = Math.floor(rest / extent);
    }
    const value = this.#core.views().current[index];
    return new NonFiniteFieldError(
      `${operation}: cell ${index} (coordinates [${coordinates.join(', ')}]) is ${value}: ` +
        'a non-finite value has no nonary digit',
      index,
    );
  }
}
