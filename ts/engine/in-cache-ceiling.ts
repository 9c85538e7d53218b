/**
 * The in-cache ceiling: the live step kernel's rate on a lattice whose state
 * fits in cache. Memory traffic is what holds a kernel below its compute
 * rate on the large lattice, so the same code on a lattice that fits in
 * cache bounds what it can reach there. The roofline of one sweep's memory
 * traffic is no bound for a temporally blocked kernel (it fuses several
 * steps per sweep: 2697 MLUPS measured at 4096^2 f64 against a 1812 MLUPS
 * roofline); the in-cache rate is. The economy takes the larger of the two.
 *
 * Measured on a small lattice (its three levels fit in L2) of the run's own
 * precision, dt, threads and batch settings, in this process: a warm-up run
 * that lets the batch sizer reach its batch, then the best of a few timed
 * runs. The live lattice is held for the runs (not for making the small
 * lattice): on 2 cores its threads would take half of them and the ceiling
 * would read low. On a loaded machine it reads low anyway (the runner's
 * threads meet at a barrier every call, and on the small lattice a call is
 * short): the economy's max with the roofline keeps that from lowering the
 * ceiling below what it was without it.
 */
import { l2Bytes } from '../bench/peers.js';
import { inCacheExtents } from '../bench/peers-report.js';
import type { Lattice } from '../lattice/lattice.js';
import type { EngineConfig } from './config.js';
import { createMainLattice } from './main-lattice.js';

/** How long one timed run should take, and how many are taken: the best is the ceiling. */
const TIMED_RUN_MS = 25;
const TIMED_RUNS = 3;
const WARMUP_STEPS = 32;
const MAX_TIMED_STEPS = 100_000;

/** The small lattice: the one `bench evolve` and `bench peers` report inCacheMlups on (three levels in L2), never larger than the live one. */
export function inCacheLatticeExtents(extents: readonly number[], precision: EngineConfig['lattice']['precision'], cacheBytes = l2Bytes()): number[] {
  const small = inCacheExtents(extents.length, precision, cacheBytes);
  return extents.map((extent, axis) => Math.min(extent, small[axis]!));
}

/** Runs `work` with the live lattice held (the engine's hold, counted as held time). */
export type HoldLive = <T>(work: () => Promise<T>) => Promise<T>;

/** MLUPS of the step module at `modulePath` on the small lattice; only the runs are made under `hold`, not the lattice's making. */
export async function measureInCacheMlups(modulePath: string, settings: EngineConfig['lattice'], seed: number, hold: HoldLive): Promise<number> {
  const lattice = createMainLattice({ ...settings, extents: inCacheLatticeExtents(settings.extents, settings.precision) }, seed);
  try {
    await lattice.swap('step', await lattice.loadModule(modulePath));
    return await hold(() => timedMlups(lattice));
  } finally {
    lattice.close();
  }
}

/** The best of TIMED_RUNS runs of about TIMED_RUN_MS each, after a warm-up. */
async function timedMlups(lattice: Lattice): Promise<number> {
  const timedRun = async (steps: number): Promise<number> => {
    const summary = await lattice.run({ steps });
    if (summary.error !== null) throw new Error(`the in-cache ceiling run failed: ${summary.error}`);
    return summary.runNs;
  };
  const warmupNs = await timedRun(WARMUP_STEPS);
  const steps = Math.min(MAX_TIMED_STEPS, Math.max(WARMUP_STEPS, Math.round((WARMUP_STEPS * TIMED_RUN_MS * 1e6) / Math.max(1, warmupNs))));
  let bestNs = Infinity;
  for (let run = 0; run < TIMED_RUNS; run += 1) bestNs = Math.min(bestNs, await timedRun(steps));
  return (steps * lattice.cells) / (bestNs / 1e3);
}
