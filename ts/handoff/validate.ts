/**
 * Checks of the arguments the handoff API takes. Every message names the
 * parameter, the value and the limit.
 */
import type { Precision } from '../../native/addon-types.js';
import { invalidRangeError, invalidTypeError, requireInteger } from '../errors.js';

/** The native limits, fixed by format version 1 (checked against the addon by tests). */
export const MAX_DIMS = 9;
export const MIN_EXTENT = 3;
export const ALIGNMENT_BYTES = 4096;
export const DEFAULT_METADATA_CAPACITY_BYTES = 64 * 1024;
export const MAX_METADATA_CAPACITY_BYTES = 64 * 1024 * 1024;
export const MAX_SEGMENT_BYTES = 2 ** 48;

export function requireExtents(name: string, value: unknown): number[] {
  if (!Array.isArray(value)) throw invalidTypeError(name, `an array of 1..${MAX_DIMS} integers >= ${MIN_EXTENT}`, value);
  if (value.length < 1 || value.length > MAX_DIMS) {
    throw invalidRangeError(`${name}.length`, `a lattice has 1..${MAX_DIMS} dimensions`, value.length);
  }
  value.forEach((extent, axis) => {
    if (typeof extent !== 'number' || !Number.isInteger(extent) || extent < MIN_EXTENT) {
      throw invalidRangeError(`${name}[${axis}]`, `each extent must be an integer >= ${MIN_EXTENT}`, extent);
    }
  });
  return value as number[];
}

export function requirePrecision(name: string, value: unknown): Precision {
  if (value !== 'f64' && value !== 'f32') throw invalidTypeError(name, '"f64" or "f32"', value);
  return value;
}

/** Extents whose levels (and so the whole segment) stay below the format's limit. */
export function requireSegmentSize(name: string, extents: number[], precision: Precision): void {
  const bytesPerCell = precision === 'f64' ? 8 : 4;
  const levelBytes = extents.reduce((cells, extent) => cells * extent, bytesPerCell);
  if (3 * levelBytes > MAX_SEGMENT_BYTES) {
    throw invalidRangeError(name, `three levels of ${levelBytes} bytes exceed the ${MAX_SEGMENT_BYTES}-byte segment limit; use smaller extents`, extents);
  }
}

export function requireMetadataCapacity(name: string, value: unknown): number {
  const capacity = requireInteger(name, value, ALIGNMENT_BYTES, MAX_METADATA_CAPACITY_BYTES);
  if (capacity % ALIGNMENT_BYTES !== 0) {
    throw invalidRangeError(name, `must be a multiple of ${ALIGNMENT_BYTES}`, value);
  }
  return capacity;
}

export function requirePath(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw invalidTypeError(name, 'a non-empty path string', value);
  if (value.includes('\0')) throw invalidRangeError(name, 'a path cannot contain NUL characters', value);
  return value;
}

export function requireFd(name: string, value: unknown): number {
  return requireInteger(name, value, 0, 2 ** 31 - 1);
}
