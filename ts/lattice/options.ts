/**
 * The lattice's construction options, checked once here so that the native
 * core can assume well-formed input.
 */
import { constants as bufferConstants } from 'node:buffer';
import os from 'node:os';
import type { Precision } from '../../native/addon-types.js';
import { describe, invalidRangeError, invalidTypeError, requireInteger, requirePositiveNumber } from '../errors.js';

export const MAX_DIMENSIONS = 9;
export const MIN_EXTENT = 3;
/** Three level-sized buffers: u^{n-1}, u^n and the kernels' scratch. */
export const STATE_LEVELS = 3;
/** The share of physical memory a lattice may claim. */
export const MEMORY_SHARE = 0.75;
/**
 * Longest one batch of steps (one call of the step kernel) should take.
 * Swaps, pauses, stop and the watchdog's snapshots wait for the batch in
 * flight, so this bounds their latency. 50 ms, not 10: at 4096^2 a fast
 * kernel's step takes 5-11 ms, so 10 ms would keep batches at 1-2 steps,
 * where a kernel that fuses 4-8 steps per pass over memory (temporal
 * blocking) is what pays; 50 ms is still below what a user notices on pause.
 */
export const DEFAULT_BATCH_LATENCY_MS = 50;
/** Most steps in one batch, however fast the kernel (8 fused steps pay; 64 leaves room for deeper fusion). */
export const DEFAULT_MAX_BATCH_STEPS = 64;
export const MAX_BATCH_LATENCY_MS = 10_000;
export const MAX_BATCH_STEPS_LIMIT = 4096;
/** A bound on steps any one call may ask for, well inside exact JS integers. */
export const MAX_STEPS = 2 ** 48;

export interface LatticeOptions {
  /** Cells per axis, 1 to 9 axes, each >= 3; the last axis is the fastest in memory. */
  extents: readonly number[];
  /** Wave speed (default 1). */
  c?: number;
  /** Lattice spacing (default 1). */
  h?: number;
  /** Time step; the Courant number c dt / h must stay below 1 / sqrt(dimensions). */
  dt: number;
  precision?: Precision;
  /** Path of the kernel module `.so` to start with (default: the reference kernel). */
  kernel?: string;
  /** Threads of the core's pool lent to kernels (default: available parallelism). */
  threads?: number;
  /**
   * Keep the state in a shared-memory state segment (a sealed memfd the core
   * steps in place) instead of private memory: needed by checkpoint() and
   * restart(). Default false: a private lattice needs no segment addon and no memfd.
   */
  sharedState?: boolean;
  /**
   * Longest one batch of steps (one kernel call) should take, in ms: the
   * runner asks the step kernel for k = clamp(floor(batchLatencyMs / time
   * per step), 1, maxBatchSteps) steps per call, a new module starting at 1
   * (default DEFAULT_BATCH_LATENCY_MS). When the latency is what limits k,
   * longer batches (up to 8 x the latency) are tried and kept only while
   * they are measured faster per step (cpp/core/batch_sizer.h).
   */
  batchLatencyMs?: number;
  /** Most steps in one kernel call, the runner's and step()'s (default DEFAULT_MAX_BATCH_STEPS). */
  maxBatchSteps?: number;
}

export interface LatticeConfig {
  extents: number[];
  c: number;
  h: number;
  dt: number;
  precision: Precision;
  cells: number;
  courantNumber: number;
  threads: number;
  kernel: string | undefined;
  sharedState: boolean;
  batchLatencyMs: number;
  maxBatchSteps: number;
}

export function bytesPerCell(precision: Precision): number {
  return precision === 'f64' ? 8 : 4;
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function checkExtents(extents: unknown): number[] {
  if (!Array.isArray(extents)) {
    throw invalidTypeError('extents', `an array of 1 to ${MAX_DIMENSIONS} integers >= ${MIN_EXTENT}`, extents);
  }
  if (extents.length < 1 || extents.length > MAX_DIMENSIONS) {
    throw invalidRangeError('extents', `has ${extents.length} dimensions: a lattice has 1 to ${MAX_DIMENSIONS} dimensions`, extents);
  }
  return extents.map((extent, axis) => {
    if (typeof extent !== 'number') throw invalidTypeError(`extents[${axis}]`, `an integer >= ${MIN_EXTENT}`, extent);
    if (!Number.isInteger(extent) || extent < MIN_EXTENT) {
      throw invalidRangeError(`extents[${axis}]`, `each extent must be an integer >= ${MIN_EXTENT}`, extent);
    }
    return extent;
  });
}

function checkPrecision(precision: unknown): Precision {
  if (precision === 'f64' || precision === 'f32') return precision;
  if (typeof precision !== 'string') throw invalidTypeError('precision', '"f64" or "f32"', precision);
  throw invalidRangeError('precision', 'must be "f64" or "f32"', precision);
}

/** Refuses a lattice whose state would not fit in memory or in one typed array. */
function checkMemory(extents: number[], precision: Precision): number {
  const cells = extents.reduce((product, extent) => product * extent, 1);
  const levelBytes = cells * bytesPerCell(precision);
  const stateBytes = STATE_LEVELS * levelBytes;
  const memoryLimit = Math.floor(os.totalmem() * MEMORY_SHARE);
  if (levelBytes > bufferConstants.MAX_LENGTH) {
    throw invalidRangeError(
      'extents',
      `one time level of ${cells} ${precision} cells needs ${formatBytes(levelBytes)}, ` +
        `more than the ${formatBytes(bufferConstants.MAX_LENGTH)} a typed array can hold`,
      extents,
    );
  }
  if (stateBytes > memoryLimit) {
    throw invalidRangeError(
      'extents',
      `the state (${STATE_LEVELS} levels of ${cells} ${precision} cells) needs ${formatBytes(stateBytes)}, ` +
        `more than the ${formatBytes(memoryLimit)} allowed (${MEMORY_SHARE * 100}% of this machine's memory)`,
      extents,
    );
  }
  return cells;
}

export function resolveLatticeOptions(options: unknown, defaultThreads: number): LatticeConfig {
  if (options === null || typeof options !== 'object') {
    throw invalidTypeError('options', 'an object such as { extents: [256, 256], dt: 0.5 }', options);
  }
  const raw = options as Record<string, unknown>;
  const extents = checkExtents(raw.extents);
  const c = requirePositiveNumber('c', raw.c ?? 1);
  const h = requirePositiveNumber('h', raw.h ?? 1);
  const dt = requirePositiveNumber('dt', raw.dt);
  const precision = checkPrecision(raw.precision ?? 'f64');
  const threads = requireInteger('threads', raw.threads ?? defaultThreads, 1, 256);
  if (raw.kernel !== undefined && typeof raw.kernel !== 'string') {
    throw invalidTypeError('kernel', 'the path of a kernel module (.so)', raw.kernel);
  }
  if (raw.sharedState !== undefined && typeof raw.sharedState !== 'boolean') {
    throw invalidTypeError('sharedState', 'a boolean', raw.sharedState);
  }

  const courantNumber = (c * dt) / h;
  const limit = 1 / Math.sqrt(extents.length);
  if (!(courantNumber < limit)) {
    throw new RangeError(
      `Courant number c*dt/h = ${courantNumber} must be < 1/sqrt(${extents.length}) = ${limit.toPrecision(6)} ` +
        `for a stable ${extents.length}-D leapfrog (c = ${c}, dt = ${dt}, h = ${h}); ` +
        `use dt < ${((limit * h) / c).toPrecision(6)}`,
    );
  }
  const cells = checkMemory(extents, precision);
  const batchLatencyMs = requirePositiveNumber('batchLatencyMs', raw.batchLatencyMs ?? DEFAULT_BATCH_LATENCY_MS);
  if (batchLatencyMs > MAX_BATCH_LATENCY_MS) {
    throw invalidRangeError('batchLatencyMs', `must be at most ${MAX_BATCH_LATENCY_MS} ms`, batchLatencyMs);
  }
  const maxBatchSteps = requireInteger('maxBatchSteps', raw.maxBatchSteps ?? DEFAULT_MAX_BATCH_STEPS, 1, MAX_BATCH_STEPS_LIMIT);
  return {
    extents,
    c,
    h,
    dt,
    precision,
    cells,
    courantNumber,
    threads,
    kernel: raw.kernel as string | undefined,
    sharedState: raw.sharedState === true,
    batchLatencyMs,
    maxBatchSteps,
  };
}

/** Checks a field array's type, length and finiteness; `name` is the parameter. */
export function checkField(name: string, field: unknown, config: LatticeConfig): void {
  const expected = config.precision === 'f64' ? Float64Array : Float32Array;
  if (!(field instanceof expected)) {
    throw invalidTypeError(name, `a ${expected.name} for a ${config.precision} lattice`, field);
  }
  if (field.length !== config.cells) {
    throw new RangeError(
      `${name}.length = ${field.length}: must equal the number of cells, ${config.cells} ` + `(the product of extents ${describe(config.extents)})`,
    );
  }
  for (let i = 0; i < field.length; i++) {
    if (!Number.isFinite(field[i])) {
      throw invalidRangeError(`${name}[${i}]`, 'every value must be finite', field[i]);
    }
  }
}
