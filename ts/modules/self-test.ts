/**
 * The self-test a kernel module passes before it may serve a lattice: on a
 * tiny lattice of the same dimensions and precision, its step must match the
 * Rust oracle to a few ulps and its readout must match the oracle's exactly.
 */
import { Worker } from 'node:worker_threads';
import type { FieldArray, Precision } from '../../native/addon-types.js';
import { coreAddon, oracleAddon } from '../../native/loader.js';
import { seededRandom } from '../util/random.js';
import type { OracleJob } from './oracle-worker.js';

export interface SelfTestShape {
  dimensions: number;
  precision: Precision;
  courant2: number;
}

const SELF_TEST_STEPS = 3;
/** Allowed |kernel - oracle|, in units of the type's epsilon times the field's largest magnitude. */
const ULPS_ALLOWED = 64;
const EPSILON: Record<Precision, number> = { f64: Number.EPSILON, f32: 2 ** -23 };
/** Readout inputs span beyond [-4, 4] so that the clamp is exercised too. */
const READOUT_AMPLITUDE = 6;

function tinyExtents(dimensions: number): number[] {
  return dimensions <= 3 ? [7, 6, 5].slice(0, dimensions) : new Array<number>(dimensions).fill(3);
}

/**
 * Random values for the first RANDOM_BLOCK_CELLS cells, then that block
 * repeated: a prime period, so that no row or plane of a large lattice
 * repeats its neighbour's values, at the cost of copies rather than a
 * generator call per cell (a confined module is self-tested on the live
 * lattice's own size, 16 Mi cells at 4096^2).
 */
const RANDOM_BLOCK_CELLS = 4099;

function randomField(precision: Precision, cells: number, amplitude: number, random: () => number): FieldArray {
  const field = precision === 'f64' ? new Float64Array(cells) : new Float32Array(cells);
  const block = Math.min(cells, RANDOM_BLOCK_CELLS);
  for (let i = 0; i < block; i++) field[i] = amplitude * (2 * random() - 1);
  for (let filled = block; filled < cells; filled *= 2) field.copyWithin(filled, 0, Math.min(filled, cells - filled));
  return field;
}

function largestDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let largest = 0;
  for (let i = 0; i < a.length; i++) {
    const difference = Math.abs(a[i]! - b[i]!);
    if (!(difference <= largest)) largest = Number.isNaN(difference) ? Infinity : difference;
  }
  return largest;
}

type Levels = { previous: FieldArray; current: FieldArray };
type Digits = { digits: Int8Array | null };

/** The calls a self-test makes of the module under test. */
export interface SelfTestCalls {
  stepCopy(previous: FieldArray, current: FieldArray, steps: number): Promise<Levels>;
  /** Null digits when the field holds a non-finite value. */
  readout(field: FieldArray): Promise<Digits>;
}

/** The Rust oracle's side of a self-test: its steps of the same state and its readout of the same field. */
export interface SelfTestOracle {
  steps(previous: FieldArray, current: FieldArray, extents: number[], courant2: number, steps: number): Promise<Levels>;
  readout(field: Float64Array): Promise<Digits>;
}

/** The oracle in this thread: a tiny lattice's self-test, in a probe child. */
export const oracleHere: SelfTestOracle = {
  steps: (previous, current, extents, courant2, steps) => {
    const oracle = oracleAddon();
    return Promise.resolve(
      previous instanceof Float64Array
        ? oracle.stepF64(previous, current as Float64Array, extents, courant2, steps)
        : oracle.stepF32(previous, current as Float32Array, extents, courant2, steps),
    );
  },
  readout: (field) => Promise.resolve({ digits: oracleAddon().readout(field).digits }),
};

function inWorker<T>(job: OracleJob): Promise<T> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./oracle-worker.js', import.meta.url), { workerData: job });
    worker.once('message', (result: T) => {
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the oracle's worker thread exited with ${code} before it answered`)));
  });
}

/** The oracle on a worker thread (oracle-worker.ts): a live-sized self-test, which must not hold the event loop. */
export const oracleOffThread: SelfTestOracle = {
  steps: (previous, current, extents, courant2, steps) => inWorker({ kind: 'steps', previous, current, extents, courant2, steps }),
  readout: (field) => inWorker({ kind: 'readout', field }),
};

/**
 * The self-test on a lattice of `extents`: SELF_TEST_STEPS steps of a seeded
 * random state against the Rust oracle's, and a readout of a field beyond
 * [-4, 4] against the oracle's; null when both agree, else the reason.
 */
export async function selfTest(calls: SelfTestCalls, extents: number[], shape: SelfTestShape, oracle: SelfTestOracle = oracleHere): Promise<string | null> {
  const cells = extents.reduce((product, extent) => product * extent, 1);
  const random = seededRandom(20240917);
  const previous = randomField(shape.precision, cells, 4, random);
  const current = randomField(shape.precision, cells, 4, random);
  // Both at once: the module's steps and the oracle's run on other threads.
  const [stepped, expected] = await Promise.all([
    calls.stepCopy(previous, current, SELF_TEST_STEPS),
    oracle.steps(previous, current, extents, shape.courant2, SELF_TEST_STEPS),
  ]);
  let scale = 1;
  for (const value of expected.current) scale = Math.max(scale, Math.abs(value));
  const tolerance = ULPS_ALLOWED * EPSILON[shape.precision] * scale;
  const difference = Math.max(largestDifference(stepped.current, expected.current), largestDifference(stepped.previous, expected.previous));
  if (!(difference <= tolerance)) {
    return (
      `self-test failed: after ${SELF_TEST_STEPS} steps on a ${extents.join('x')} ${shape.precision} lattice ` +
      `the module differs from the Rust oracle by ${difference.toExponential(3)}, more than the ${tolerance.toExponential(3)} allowed`
    );
  }
  const readoutInput = randomField(shape.precision, cells, READOUT_AMPLITUDE, random);
  const [{ digits }, { digits: expectedDigits }] = await Promise.all([calls.readout(readoutInput), oracle.readout(Float64Array.from(readoutInput))]);
  const mismatch = digits && expectedDigits ? digits.findIndex((digit, i) => digit !== expectedDigits[i]) : 0;
  if (mismatch !== -1) {
    return `self-test failed: the module's readout differs from the Rust oracle's at cell ${mismatch} of a ${extents.join('x')} ${shape.precision} lattice`;
  }
  return null;
}

/** Runs the self-test of the module at `file` (already probed) on a tiny lattice; null when it passes, else the reason. */
export async function selfTestModule(file: string, shape: SelfTestShape): Promise<string | null> {
  const extents = tinyExtents(shape.dimensions);
  const core = new (coreAddon().LatticeCore)({
    extents,
    courant2: shape.courant2,
    precision: shape.precision,
    kernelPath: file,
    threads: 1,
  });
  try {
    // Awaited here: the core must outlive every call the test makes of it.
    return await selfTest(
      {
        stepCopy: (previous, current, steps) => Promise.resolve(core.stepCopy(previous, current, steps)),
        readout: (field) => {
          core.setState(field, field);
          return Promise.resolve(core.readout());
        },
      },
      extents,
      shape,
    );
  } finally {
    core.close();
  }
}
