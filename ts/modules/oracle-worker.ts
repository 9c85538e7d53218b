/**
 * A worker thread's one oracle job for a self-test (self-test.ts,
 * `oracleOffThread`): the steps of a state or the readout of a field. A
 * confined module is self-tested on the live lattice's size, where the
 * oracle takes seconds at 4096^2; here the thread that asked goes on
 * serving its event loop meanwhile.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FieldArray } from '../../native/addon-types.js';
import { oracleAddon } from '../../native/loader.js';

export type OracleJob =
  { kind: 'steps'; previous: FieldArray; current: FieldArray; extents: number[]; courant2: number; steps: number } | { kind: 'readout'; field: Float64Array };

const job = workerData as OracleJob;
const oracle = oracleAddon();
if (job.kind === 'steps') {
  const { previous, current, extents, courant2, steps } = job;
  const result =
    previous instanceof Float64Array
      ? oracle.stepF64(previous, current as Float64Array, extents, courant2, steps)
      : oracle.stepF32(previous, current as Float32Array, extents, courant2, steps);
  parentPort!.postMessage({ previous: result.previous, current: result.current });
} else {
  parentPort!.postMessage({ digits: oracle.readout(job.field).digits });
}
