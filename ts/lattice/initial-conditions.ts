/**
 * Initial states for the CLI, the benchmarks and the tests. Each returns the
 * two time levels (u^{-1}, u^0) in the lattice's precision.
 */
import type { FieldArray, Precision } from '../../native/addon-types.js';
import { invalidRangeError } from '../errors.js';
import { seededRandom } from '../util/random.js';

export const INITIAL_CONDITIONS = ['gaussian', 'standing', 'random'] as const;
export type InitialCondition = (typeof INITIAL_CONDITIONS)[number];

export interface InitialState {
  previous: FieldArray;
  current: FieldArray;
}

interface Shape {
  extents: readonly number[];
  precision: Precision;
  courantNumber: number;
}

/** Peak amplitude: the balanced-nonary readout spans [-4, 4]. */
const AMPLITUDE = 4;

function allocate(precision: Precision, cells: number): FieldArray {
  return precision === 'f64' ? new Float64Array(cells) : new Float32Array(cells);
}

export function cellCount(extents: readonly number[]): number {
  return extents.reduce((product, extent) => product * extent, 1);
}

/** Calls visit(index, coordinates) for every cell in row-major order. */
function forEachCell(extents: readonly number[], visit: (index: number, x: readonly number[]) => void): void {
  const x = new Array<number>(extents.length).fill(0);
  const cells = cellCount(extents);
  for (let index = 0; index < cells; index++) {
    visit(index, x);
    for (let axis = extents.length - 1; axis >= 0; axis--) {
      if (++x[axis]! < extents[axis]!) break;
      x[axis] = 0;
    }
  }
}

/**
 * omega * dt of the discrete mode prod_i sin(2 pi m_i x_i / n_i), from the
 * scheme's dispersion relation sin(omega dt / 2) = r sqrt(sum_i sin^2(pi m_i / n_i)).
 */
export function discreteOmegaDt(extents: readonly number[], modes: readonly number[], courantNumber: number): number {
  const sum = extents.reduce((total, n, i) => total + Math.sin((Math.PI * modes[i]!) / n) ** 2, 0);
  return 2 * Math.asin(courantNumber * Math.sqrt(sum));
}

/** The sine mode prod_i sin(2 pi m_i x_i / n_i) scaled by `amplitude`. */
export function sineMode(extents: readonly number[], modes: readonly number[], amplitude: number): Float64Array {
  const mode = new Float64Array(cellCount(extents));
  forEachCell(extents, (index, x) => {
    let value = amplitude;
    for (let axis = 0; axis < extents.length; axis++) {
      value *= Math.sin((2 * Math.PI * modes[axis]! * x[axis]!) / extents[axis]!);
    }
    mode[index] = value;
  });
  return mode;
}

/** An exact standing wave of the discrete scheme: u^n = cos(n omega dt) S. */
export function standingWave(shape: Shape, modes = shape.extents.map(() => 1)): InitialState {
  const mode = sineMode(shape.extents, modes, AMPLITUDE);
  const cosine = Math.cos(discreteOmegaDt(shape.extents, modes, shape.courantNumber));
  const previous = allocate(shape.precision, mode.length);
  const current = allocate(shape.precision, mode.length);
  for (let i = 0; i < mode.length; i++) {
    previous[i] = cosine * mode[i]!;
    current[i] = mode[i]!;
  }
  return { previous, current };
}

/** A Gaussian bump at the centre, at rest, about an eighth of each extent wide. */
export function gaussianPulse(shape: Shape): InitialState {
  const current = allocate(shape.precision, cellCount(shape.extents));
  forEachCell(shape.extents, (index, x) => {
    let exponent = 0;
    for (let axis = 0; axis < shape.extents.length; axis++) {
      const n = shape.extents[axis]!;
      const width = Math.max(n / 8, 1);
      exponent += ((x[axis]! - n / 2) / width) ** 2;
    }
    current[index] = AMPLITUDE * Math.exp(-exponent / 2);
  });
  return { previous: current.slice(), current };
}

/** Independent uniform values in [-4, 4] on both levels, from a seed. */
export function randomState(shape: Shape, seed: number): InitialState {
  const random = seededRandom(seed);
  const cells = cellCount(shape.extents);
  const previous = allocate(shape.precision, cells);
  const current = allocate(shape.precision, cells);
  for (let i = 0; i < cells; i++) {
    previous[i] = AMPLITUDE * (2 * random() - 1);
    current[i] = AMPLITUDE * (2 * random() - 1);
  }
  return { previous, current };
}

export function initialState(kind: string, shape: Shape, seed = 1): InitialState {
  switch (kind) {
    case 'gaussian':
      return gaussianPulse(shape);
    case 'standing':
      return standingWave(shape);
    case 'random':
      return randomState(shape, seed);
    default:
      throw invalidRangeError('init', `must be one of ${INITIAL_CONDITIONS.join(', ')}`, kind);
  }
}
