/**
 * What the Rust oracle is given from a lattice's live state: both levels,
 * widened to f64, for the energy; for the invariant report also the live
 * readout of the same step and the wrap probe's steps on shifted copies.
 */
import type { CoreLattice, CoreStateViews, FieldArray, InvariantInput, Precision } from '../../native/addon-types.js';
import { oracleAddon } from '../../native/loader.js';
import { NonFiniteFieldError, invalidTypeError, requirePositiveNumber } from '../errors.js';
import type { LatticeConfig } from './options.js';

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

/** Zero-copy views when stopped; copies taken at one step boundary while running. */
export function liveLevels(core: CoreLattice): CoreStateViews {
  return core.running ? core.levels() : core.views();
}

/** The oracle's energy of two levels of this lattice's shape. */
export function energyOf(config: LatticeConfig, levels: CoreStateViews): number {
  const { extents, c, h, dt } = config;
  return oracleAddon().energy(toFloat64(levels.previous), toFloat64(levels.current), extents, c, h, dt);
}

/** What the oracle checks, read from the live state at one step; the arrays are this call's own. */
export function invariantInput(core: CoreLattice, config: LatticeConfig, initialEnergy: number, options: InvariantOptions): InvariantInput {
  if (options === null || typeof options !== 'object') {
    throw invalidTypeError('options', 'an object such as { driftTolerance: 1e-12 }', options);
  }
  const driftTolerance = requirePositiveNumber('driftTolerance', options.driftTolerance ?? DEFAULT_DRIFT_TOLERANCE[config.precision]);
  const { levels, readout } = levelsWithReadout(core);
  const previous64 = Float64Array.from(levels.previous);
  const current64 = Float64Array.from(levels.current);
  const wrap = options.wrapProbe === false ? null : wrapProbe(core, config, previous64, current64);
  const { extents, c, h, dt } = config;
  return {
    extents,
    c,
    h,
    dt,
    previous: previous64,
    current: current64,
    initialEnergy,
    driftTolerance,
    readout,
    stepped: wrap?.stepped ?? null,
    shiftedStepped: wrap?.shiftedStepped ?? null,
  };
}

/**
 * Both levels and the live readout of the same step. While running, each
 * read waits for a boundary of its own, so the runner is held paused
 * across the two (a pause of the caller's own is left in place).
 */
function levelsWithReadout(core: CoreLattice): { levels: CoreStateViews; readout: Int8Array | null } {
  const hold = core.running && !core.paused;
  if (hold) core.pause();
  try {
    const levels = liveLevels(core);
    return { levels, readout: core.readout().digits };
  } finally {
    if (hold) core.resume();
  }
}

/**
 * One kernel step from the live state and from the state shifted by one cell
 * along each axis, all on copies: the oracle checks the results line up.
 */
function wrapProbe(core: CoreLattice, config: LatticeConfig, previous: Float64Array, current: Float64Array) {
  const oracle = oracleAddon();
  const narrow = (field: Float64Array): FieldArray => (config.precision === 'f64' ? field : Float32Array.from(field));
  const stepOnce = (p: Float64Array, u: Float64Array) => toFloat64(core.stepCopy(narrow(p), narrow(u), 1).current);
  const stepped = stepOnce(previous, current);
  const shiftedStepped = config.extents.map((_, axis) =>
    stepOnce(oracle.shift(previous, config.extents, axis, 1), oracle.shift(current, config.extents, axis, 1)),
  );
  return { stepped, shiftedStepped };
}

/** The error of a live readout that met a non-finite value at `index`, with the cell's coordinates and value. */
export function nonFiniteError(core: CoreLattice, extents: readonly number[], operation: string, index: number): NonFiniteFieldError {
  const coordinates: number[] = [];
  let rest = index;
  for (let axis = extents.length - 1; axis >= 0; axis--) {
    const extent = extents[axis]!;
    coordinates.unshift(rest % extent);
    rest = Math.floor(rest / extent);
  }
  const value = liveLevels(core).current[index];
  return new NonFiniteFieldError(
    `${operation}: cell ${index} (coordinates [${coordinates.join(', ')}]) is ${value}: ` + 'a non-finite value has no nonary digit',
    index,
  );
}
