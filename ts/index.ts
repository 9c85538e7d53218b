/**
 * Ouroboros: a native wave-physics core on an N-dimensional torus.
 *
 *   import { Lattice, nonary } from 'ouroboros';
 */
export { Lattice } from './lattice/lattice.js';
export type { InvariantOptions } from './lattice/lattice.js';
export type { LatticeOptions } from './lattice/options.js';
export { NonFiniteFieldError } from './errors.js';
export { NativeLoadError } from '../native/loader.js';
export type { FieldArray, InvariantReport, Precision } from '../native/addon-types.js';
export * as nonary from './nonary/index.js';
